// The fixture every config loader test shares: a YAML text in, the loaded Config or its
// problems out, with the temp folder stripped so messages read "moat.yaml:LINE: message".
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "proxy/config/config.h"
#include "tests/file_reading/temp_dir.h"

namespace moat::config::test {

using moat::test::TempDir;

// Writes `yaml` as moat.yaml into a fresh folder and loads it.
class ConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<Config> Load(std::string_view yaml) {
    return LoadConfig(dir_.Write("moat.yaml", yaml));
  }

  // Every line of the error message; fails the test if the config loaded.
  std::vector<std::string> Problems(std::string_view yaml) {
    const absl::StatusOr<Config> config = Load(yaml);
    EXPECT_FALSE(config.ok()) << "loaded although invalid";
    if (config.ok()) return {};
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    std::vector<std::string> lines = absl::StrSplit(config.status().message(), '\n');
    for (std::string& line : lines) {
      if (line.starts_with(dir_.path() + "/")) line.erase(0, dir_.path().size() + 1);
    }
    return lines;
  }

  // The single problem in `yaml`.
  std::string Problem(std::string_view yaml) {
    std::vector<std::string> lines = Problems(yaml);
    EXPECT_EQ(lines.size(), 1u) << testing::PrintToString(lines);
    return lines.empty() ? "" : lines[0];
  }

  TempDir dir_;
};

inline constexpr std::string_view kMinimal =
    "listeners:\n"
    "  - bind: \"127.0.0.1:1884\"\n"
    "upstream:\n"
    "  address: \"127.0.0.1:1883\"\n";

}  // namespace moat::config::test
