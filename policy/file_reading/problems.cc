#include "policy/file_reading/problems.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/file_reading/file_text.h"

namespace moat::file_reading {

Problems::Problems(std::string_view file, std::string_view text)
    : file_(file), last_line_(std::max(static_cast<int>(SplitLines(text).size()), 1)) {}

void Problems::Add(int line, std::string message) {
  if (last_line_ != 0) line = std::min(line, last_line_);
  problems_.emplace_back(line, std::move(message));
}

absl::Status Problems::ToStatus() const {
  if (problems_.empty()) return absl::OkStatus();
  std::vector<std::pair<int, std::string>> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> lines;
  lines.reserve(sorted.size());
  for (const auto& [line, message] : sorted) {
    lines.push_back(absl::StrCat(file_, ":", line, ": ", message));
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

}  // namespace moat::file_reading
