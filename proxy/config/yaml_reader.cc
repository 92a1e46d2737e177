#include "proxy/config/yaml_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "policy/file_reading/file_text.h"
#include "proxy/config/endpoint.h"

namespace moat::config {

using file_reading::Describe;
using file_reading::Quote;
using file_reading::ReportExpected;

std::optional<std::string> ReadString(const Field& field, Problems& problems) {
  if (field.value.IsNull() || (field.value.IsScalar() && field.value.Scalar().empty())) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' is empty"));
    return std::nullopt;
  }
  if (!field.value.IsScalar()) {
    ReportExpected(field, "a string", problems);
    return std::nullopt;
  }
  return field.value.Scalar();
}

namespace {

// `value`, if it was read and lies within [min, max]; else nullopt, the problem recorded.
template <typename Number>
std::optional<Number> InRange(const Field& field, bool read, Number value, Number min, Number max,
                              std::string_view what, Problems& problems) {
  if (!read) {
    ReportExpected(field, what, problems);
    return std::nullopt;
  }
  if (value < min || value > max) {
    problems.Add(field.line, absl::StrCat("'", field.path, "' must be between ", min, " and ", max,
                                          ", got ", value));
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<int64_t> ReadInt(const Field& field, int64_t min, int64_t max, Problems& problems) {
  int64_t value = 0;
  const bool read = field.value.IsScalar() && absl::SimpleAtoi(field.value.Scalar(), &value);
  return InRange(field, read, value, min, max, "an integer", problems);
}

std::optional<double> ReadNumber(const Field& field, double min, double max, Problems& problems) {
  double value = 0;
  const bool read = field.value.IsScalar() && absl::SimpleAtod(field.value.Scalar(), &value) &&
                    std::isfinite(value);
  return InRange(field, read, value, min, max, "a number", problems);
}

std::optional<std::chrono::milliseconds> ReadDuration(const Field& field,
                                                      std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max,
                                                      Problems& problems) {
  absl::Duration duration;
  if (!field.value.IsScalar() || !absl::ParseDuration(field.value.Scalar(), &duration)) {
    ReportExpected(field, "a duration such as 500ms, 10s or 2m", problems);
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
    ReportExpected(field, "a whole number of milliseconds", problems);
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

std::filesystem::path ResolvePath(std::string_view text, const std::filesystem::path& base_dir,
                                  std::error_code& error) {
  std::filesystem::path path(text);
  if (path.is_relative()) path = base_dir / path;
  return std::filesystem::absolute(path, error).lexically_normal();
}

std::optional<std::string> ReadPath(const Field& field, const std::filesystem::path& base_dir,
                                    Problems& problems) {
  const std::optional<std::string> text = ReadString(field, problems);
  if (!text) return std::nullopt;
  std::error_code error;
  const std::string resolved = ResolvePath(*text, base_dir, error).string();
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
