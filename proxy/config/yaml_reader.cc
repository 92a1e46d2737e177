#include "proxy/config/yaml_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "proxy/config/endpoint.h"

namespace moat::config {
namespace {

// Debian's Abseil has its own string_view type, not an alias of std::string_view.
absl::string_view Av(std::string_view text) { return {text.data(), text.size()}; }

// Text from the file, safe to put in a one-line message: control characters (a quoted
// scalar may hold "\n") would break the one-problem-per-line output, and a huge value
// would bury the rest.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02X", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string Where(const std::string& map_path) {
  return map_path.empty() ? "at the top level" : absl::StrCat("in '", map_path, "'");
}

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

// " (did you mean 'address'?)" for a near miss such as "adress" or a shortened name
// such as "max_packet", else "".
std::string Suggestion(std::string_view key, std::initializer_list<std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;  // at most two edits away
  for (std::string_view candidate : known) {
    const bool shortened = key.size() >= 4 && candidate.starts_with(key);
    const size_t distance = shortened ? 1 : EditDistance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean '", Av(best), "'?)");
}

bool ScalarOrReport(const Field& field, std::string_view expected, Problems& problems) {
  if (field.value.IsScalar()) return true;
  problems.Add(field.line, absl::StrCat("'", field.path, "' must be ", Av(expected), ", got ",
                                        Describe(field.value)));
  return false;
}

}  // namespace

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 1 : mark.line + 1;
}

void Problems::Add(int line, std::string message) {
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

MapReader::MapReader(const YAML::Node& map, std::string path, int line,
                     std::initializer_list<std::string_view> known_keys, Problems& problems)
    : path_(std::move(path)), line_(line), problems_(problems) {
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const int key_line = LineOf(key);
    if (!key.IsScalar()) {
      problems_.Add(key_line, absl::StrCat("keys must be plain names, not ", Describe(key), " ",
                                           Where(path_)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(known_keys.begin(), known_keys.end(), name) == known_keys.end()) {
      problems_.Add(key_line, absl::StrCat("unknown key ", Quote(name), " ", Where(path_),
                                           Suggestion(name, known_keys)));
      continue;
    }
    // yaml-cpp keeps both entries of a repeated key; which one wins would be a guess.
    if (const Field* first = Find(name)) {
      problems_.Add(key_line, absl::StrCat("duplicate key '", name, "' ", Where(path_),
                                           " (first at line ", first->line, ")"));
      continue;
    }
    Field field;
    field.path = path_.empty() ? name : absl::StrCat(path_, ".", name);
    field.line = key_line;
    field.value = entry.second;
    fields_.emplace_back(name, std::move(field));
  }
}

const Field* MapReader::Find(std::string_view key) const {
  for (const auto& [name, field] : fields_) {
    if (name == key) return &field;
  }
  return nullptr;
}

const Field* MapReader::Require(std::string_view key) {
  const Field* field = Find(key);
  if (field == nullptr) {
    problems_.Add(line_, path_.empty() ? absl::StrCat("missing required key '", Av(key), "'")
                                       : absl::StrCat("missing required key '", Av(key), "' in '",
                                                      path_, "'"));
  }
  return field;
}

bool ExpectMap(const Field& field, Problems& problems) {
  if (field.value.IsMap()) return true;
  problems.Add(field.line,
               absl::StrCat("'", field.path, "' must be a map, got ", Describe(field.value)));
  return false;
}

bool ExpectSequence(const Field& field, Problems& problems) {
  if (field.value.IsSequence()) return true;
  problems.Add(field.line,
               absl::StrCat("'", field.path, "' must be a list, got ", Describe(field.value)));
  return false;
}

std::optional<std::string> ReadString(const Field& field, Problems& problems) {
  if (field.value.IsNull() || (field.value.IsScalar() && field.value.Scalar().empty())) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' is empty"));
    return std::nullopt;
  }
  if (!ScalarOrReport(field, "a string", problems)) return std::nullopt;
  return field.value.Scalar();
}

std::optional<bool> ReadBool(const Field& field, Problems& problems) {
  bool value = false;
  if (field.value.IsScalar() && YAML::convert<bool>::decode(field.value, value)) return value;
  problems.Add(field.line, absl::StrCat("'", field.path, "' must be true or false, got ",
                                        Describe(field.value)));
  return std::nullopt;
}

std::optional<int64_t> ReadInt(const Field& field, int64_t min, int64_t max, Problems& problems) {
  int64_t value = 0;
  if (!field.value.IsScalar() || !absl::SimpleAtoi(field.value.Scalar(), &value)) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' must be an integer, got ",
                                          Describe(field.value)));
    return std::nullopt;
  }
  if (value < min || value > max) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' must be between ", min, " and ", max,
                                          ", got ", value));
    return std::nullopt;
  }
  return value;
}

std::optional<std::chrono::milliseconds> ReadDuration(const Field& field,
                                                      std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max,
                                                      Problems& problems) {
  absl::Duration duration;
  if (!field.value.IsScalar() || !absl::ParseDuration(field.value.Scalar(), &duration)) {
    problems.Add(field.line, absl::StrCat("'", field.path,
                                          "' must be a duration such as 500ms, 10s or 2m, got ",
                                          Describe(field.value)));
    return std::nullopt;
  }
  // Compare before converting: ToChronoMilliseconds saturates "inf" and truncates "1us".
  if (duration < absl::FromChrono(min) || duration > absl::FromChrono(max)) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' must be between ",
                                          absl::FormatDuration(absl::FromChrono(min)), " and ",
                                          absl::FormatDuration(absl::FromChrono(max)), ", got ",
                                          Describe(field.value)));
    return std::nullopt;
  }
  if (duration % absl::Milliseconds(1) != absl::ZeroDuration()) {
    problems.Add(field.line,
                 absl::StrCat("'", field.path, "' must be a whole number of milliseconds, got ",
                              Describe(field.value)));
    return std::nullopt;
  }
  return absl::ToChronoMilliseconds(duration);
}

std::optional<Endpoint> ReadEndpoint(const Field& field, Problems& problems) {
  const std::optional<std::string> text = ReadString(field, problems);
  if (!text) return std::nullopt;
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(*text);
  if (!endpoint.ok()) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' is not a valid address ",
                                          Quote(*text), ": ", endpoint.status().message()));
    return std::nullopt;
  }
  return *std::move(endpoint);
}

void ReportBadChoice(const Field& field, const std::string& choices, Problems& problems) {
  problems.Add(field.line, absl::StrCat("'", field.path, "' must be one of ", choices, "; got ",
                                        Describe(field.value)));
}

std::optional<std::string> ReadPath(const Field& field, const std::filesystem::path& base_dir,
                                    Problems& problems) {
  const std::optional<std::string> text = ReadString(field, problems);
  if (!text) return std::nullopt;
  std::filesystem::path path(*text);
  if (path.is_relative()) path = base_dir / path;
  std::error_code error;
  path = std::filesystem::absolute(path, error).lexically_normal();
  const std::string resolved = path.string();
  struct stat info {};
  if (!error && stat(resolved.c_str(), &info) != 0) error.assign(errno, std::generic_category());
  if (!error && S_ISDIR(info.st_mode)) error = std::make_error_code(std::errc::is_a_directory);
  if (!error && access(resolved.c_str(), R_OK) != 0) {
    error.assign(errno, std::generic_category());
  }
  if (error) {
    problems.Add(field.line, absl::StrCat("'", field.path, "': cannot read ", Quote(resolved), ": ",
                                          error.message()));
    return std::nullopt;
  }
  return resolved;
}

}  // namespace moat::config
