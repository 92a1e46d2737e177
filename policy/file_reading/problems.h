// Reading configuration-like files: moat.yaml (proxy/config), the native YAML policy and
// the mosquitto acl_file (policy/acl), the mosquitto password file (policy/credentials).
// Each loader reports every problem it finds, not just the first, as "FILE:LINE: message"
// (CONTRACT.md, `moat --check-config`), quotes file text the same way, suggests the key
// that was meant and reads the file the same way, from this one library:
//
//   problems.h   Problems: (line, message) pairs -> one status, "FILE:LINE: message" lines
//   file_text.h  ReadFileText(), SplitLines(), TrimSpace(), Quote(), Printable(),
//                DidYouMean()
//   yaml_map.h   strict YAML maps for the YAML formats (its own target: the line formats
//                never link yaml-cpp)
//
// Why under policy/: proxy/ depends on policy/, never the other way round, and both need
// it; placed in proxy/config it would make policy/ depend on proxy/. It uses nothing else
// in policy/ either, so it is its own small library (moat_file_reading) rather than part
// of moat_policy.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace moat::file_reading {

// Problems found in one file, with the 1-based line each is on. Reading carries on after
// each, so one run shows every mistake.
class Problems {
 public:
  explicit Problems(std::string_view file) : file_(file) {}
  // For problems in `text`: a line past its end is reported as its last line, so every
  // FILE:LINE names a line of the file. yaml-cpp places what it finds or makes up at the
  // end of the input (an unclosed bracket, the null after a final "? ") on the line after
  // a final newline, or further.
  Problems(std::string_view file, std::string_view text);

  void Add(int line, std::string message);
  bool empty() const { return problems_.empty(); }
  const std::string& file() const { return file_; }

  // InvalidArgument listing every problem as "FILE:LINE: message", one per line, ordered
  // by line (problems on one line keep the order they were added in); OK when there are
  // none.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  int last_line_ = 0;  // 0: no limit
  std::vector<std::pair<int, std::string>> problems_;
};

}  // namespace moat::file_reading
