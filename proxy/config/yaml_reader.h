// The config loader's typed readers of YAML values, on top of the strict map reading it
// shares with the YAML policy (policy/file_reading/yaml_map.h). Each reports what is
// wrong with a value as a problem at its line and gives nullopt, and reading carries on,
// so one run of `moat --check-config` shows every mistake in the file instead of the first.
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

#include "policy/file_reading/yaml_map.h"
#include "proxy/config/config.h"

namespace moat::config {

using file_reading::ExpectMap;
using file_reading::ExpectSequence;
using file_reading::Field;
using file_reading::LineOf;
using file_reading::MapReader;
using file_reading::Problems;
using file_reading::ReadBool;

// Typed readers: nullopt (with the problem recorded) when the value does not fit.
std::optional<std::string> ReadString(const Field& field, Problems& problems);  // non-empty
std::optional<int64_t> ReadInt(const Field& field, int64_t min, int64_t max, Problems& problems);
// A number, decimals allowed, within [min, max].
std::optional<double> ReadNumber(const Field& field, double min, double max, Problems& problems);
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
// `text` as an absolute, normalized path, resolved against `base_dir` when relative.
std::filesystem::path ResolvePath(std::string_view text, const std::filesystem::path& base_dir,
                                  std::error_code& error);

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
