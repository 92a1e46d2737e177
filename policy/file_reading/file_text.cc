#include "policy/file_reading/file_text.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace moat::file_reading {
namespace {

// Debian's Abseil has its own string_view type, not an alias of std::string_view.
absl::string_view Av(std::string_view text) { return {text.data(), text.size()}; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

}  // namespace

absl::StatusOr<std::string> ReadFileText(const std::string& path, std::string_view what) {
  const auto unreadable = [&](int error) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":1: cannot read ", Av(what), ": ", std::strerror(error)));
  };
  // POSIX calls, not a stream: read() on a folder fails with EISDIR.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  std::string text;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return unreadable(error);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

std::vector<std::string_view> SplitOn(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  while (true) {
    const size_t at = text.find(separator);
    pieces.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return pieces;
    text.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines = SplitOn(text, '\n');
  if (lines.back().empty()) lines.pop_back();  // after the final newline, or of ""
  return lines;
}

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  return absl::StrCat("'", Printable(text.substr(0, kMaxShown)),
                      text.size() > kMaxShown ? "..." : "", "'");
}

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02X", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string DidYouMean(std::string_view word, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;  // at most two edits away
  for (std::string_view candidate : known) {
    const bool shortened = word.size() >= 4 && candidate.starts_with(word);
    const size_t distance = shortened ? 1 : EditDistance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean '", Av(best), "'?)");
}

}  // namespace moat::file_reading
