// The shape every file loader promises for a refused file (`moat --check-config` prints
// it): one "FILE:LINE: message" per line, LINE a line of the file, in ascending order.
// The password file, acl_file, config and YAML policy harnesses check it the same way.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fuzz/check.h"
#include "policy/file_reading/file_text.h"

namespace moat::fuzz {

struct ProblemLine {
  size_t line = 0;  // 1-based
  std::string message;
};

// Checks `refusal`, the status that refused `text` as `file`, and returns its problems.
// An empty file still has a line 1 to report on ("the config is empty").
inline std::vector<ProblemLine> CheckRefusal(std::string_view text, std::string_view file,
                                             const absl::Status& refusal) {
  Check(refusal.code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
  const std::string errors(refusal.message());
  const size_t lines = std::max<size_t>(file_reading::SplitLines(text).size(), 1);
  std::vector<ProblemLine> problems;
  for (std::string_view message : file_reading::SplitOn(errors, '\n')) {
    Check(message.starts_with(file) && message.substr(file.size()).starts_with(":"),
          "message without the file name");
    message.remove_prefix(file.size() + 1);
    const size_t colon = message.find(": ");
    Check(colon != std::string_view::npos && colon > 0, "message without a line number");
    size_t line = 0;
    for (char c : message.substr(0, colon)) {
      Check(c >= '0' && c <= '9', "line number is not a number");
      line = line * 10 + static_cast<size_t>(c - '0');
      Check(line <= lines, "line number past the end");
    }
    Check(line >= 1, "line number 0");
    Check(problems.empty() || line >= problems.back().line, "line numbers out of order");
    problems.push_back({line, std::string(message.substr(colon + 2))});
  }
  return problems;
}

}  // namespace moat::fuzz
