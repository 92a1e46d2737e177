#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace moat::metrics {

namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The fields of /proc/self/stat after "pid (comm)"; comm may hold spaces and parentheses,
// so split after the last ')'. fields[0] is field 3 (state) of proc(5).
std::vector<std::string> StatFields() {
  const std::optional<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat) return {};
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(stat->substr(close + 1));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

std::optional<double> Field(const std::vector<std::string>& fields, size_t number) {
  const size_t index = number - 3;
  if (index >= fields.size()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(fields[index].c_str(), &end);
  if (end == fields[index].c_str()) return std::nullopt;
  return value;
}

std::optional<double> BootTimeSeconds() {
  const std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  const size_t pos = stat->find("\nbtime ");
  if (pos == std::string::npos) return std::nullopt;
  return std::strtod(stat->c_str() + pos + 7, nullptr);
}

std::optional<double> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  const int own_fd = dirfd(dir);
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (std::atoi(entry->d_name) == own_fd) continue;  // the listing's own descriptor
    ++count;
  }
  closedir(dir);
  return count;
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::vector<std::string> fields = StatFields();
  const std::optional<double> utime = Field(fields, 14);
  const std::optional<double> stime = Field(fields, 15);
  if (utime && stime && ticks > 0) stats.cpu_seconds = (*utime + *stime) / ticks;
  if (const std::optional<double> rss = Field(fields, 24); rss && page_size > 0) {
    stats.resident_memory_bytes = *rss * page_size;
  }
  const std::optional<double> start_ticks = Field(fields, 22);
  const std::optional<double> boot = BootTimeSeconds();
  if (start_ticks && boot && ticks > 0) stats.start_time_seconds = *boot + *start_ticks / ticks;
  stats.open_fds = OpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    stats.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return stats;
}

}  // namespace moat::metrics
