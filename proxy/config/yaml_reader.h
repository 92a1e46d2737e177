// Strict reading of YAML values for the config loader. Every problem goes into a
// Problems list with the line it was found on, and reading carries on, so one run of
// `moat --check-config` shows every mistake in the file instead of the first.
//
//   YAML::Node --MapReader--> Field{path, line, value} --Read*()--> typed value
//                   |                                        |
//                   +--- unknown / duplicate keys ---------> Problems --> "FILE:LINE: msg"
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "proxy/config/config.h"
#include "yaml-cpp/yaml.h"

namespace moat::config {

// 1-based line of `node` for messages; 1 when yaml-cpp recorded no position.
int LineOf(const YAML::Node& node);

class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  void Add(int line, std::string message);
  bool empty() const { return problems_.empty(); }
  // InvalidArgument listing every problem as "FILE:LINE: message", one per line, ordered
  // by line; OK when there are none.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  std::vector<std::pair<int, std::string>> problems_;
};

// One "key: value" of a map, with what messages need to point at it.
struct Field {
  std::string path;  // dotted path for messages, e.g. "listeners[0].tls.cert"
  int line = 1;      // line of the key
  YAML::Node value;
};

// The entries of one YAML map, checked against the keys moat knows. Unknown keys,
// duplicate keys and keys that are not plain strings are reported on construction: the
// contract says nothing in the file is silently ignored.
class MapReader {
 public:
  // `path` names the map in messages ("" for the top level); `line` is where it starts
  // for "missing key" messages (the line of its parent key).
  MapReader(const YAML::Node& map, std::string path, int line,
            std::initializer_list<std::string_view> known_keys, Problems& problems);

  // The entry for `key`, or nullptr when the map does not have it.
  const Field* Find(std::string_view key) const;
  // Like Find(), but reports "missing required key" when absent.
  const Field* Require(std::string_view key);

  const std::string& path() const { return path_; }
  int line() const { return line_; }

 private:
  std::string path_;
  int line_;
  Problems& problems_;
  std::vector<std::pair<std::string, Field>> fields_;
};

// Type checks that report "'path' must be X, got Y" and return false on mismatch.
bool ExpectMap(const Field& field, Problems& problems);
bool ExpectSequence(const Field& field, Problems& problems);

// Typed readers: nullopt (with the problem recorded) when the value does not fit.
std::optional<std::string> ReadString(const Field& field, Problems& problems);  // non-empty
std::optional<bool> ReadBool(const Field& field, Problems& problems);
std::optional<int64_t> ReadInt(const Field& field, int64_t min, int64_t max, Problems& problems);
// "500ms", "10s", "2m", "1h30m" (absl::ParseDuration), within [min, max], whole ms.
std::optional<std::chrono::milliseconds> ReadDuration(const Field& field,
                                                      std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max,
                                                      Problems& problems);
std::optional<Endpoint> ReadEndpoint(const Field& field, Problems& problems);
// One of `choices` (first: spelling in the file, second: value).
template <typename Enum>
std::optional<Enum> ReadEnum(const Field& field,
                             std::initializer_list<std::pair<std::string_view, Enum>> choices,
                             Problems& problems);
// A file name, resolved against `base_dir` when relative, returned absolute; the file
// must exist and be readable now, so a typo shows up in --check-config rather than at
// the first reload.
std::optional<std::string> ReadPath(const Field& field, const std::filesystem::path& base_dir,
                                    Problems& problems);

// ---- implementation of the template -----------------------------------------------------

void ReportBadChoice(const Field& field, const std::string& choices, Problems& problems);

template <typename Enum>
std::optional<Enum> ReadEnum(const Field& field,
                             std::initializer_list<std::pair<std::string_view, Enum>> choices,
                             Problems& problems) {
  const std::optional<std::string> text = ReadString(field, problems);
  if (!text) return std::nullopt;
  std::string names;
  for (const auto& [name, value] : choices) {
    if (*text == name) return value;
    names += names.empty() ? "" : ", ";
    names += name;
  }
  ReportBadChoice(field, names, problems);
  return std::nullopt;
}

}  // namespace moat::config
