// The standard process_* metrics, read from /proc/self at scrape time (Linux only), with
// the meanings every Prometheus client library gives them.
#pragma once

#include <optional>

namespace moat::metrics {

struct ProcessStats {
  std::optional<double> cpu_seconds;            // user + system
  std::optional<double> resident_memory_bytes;  // RSS
  std::optional<double> open_fds;
  std::optional<double> max_fds;             // the soft RLIMIT_NOFILE
  std::optional<double> start_time_seconds;  // since the Unix epoch
};

// Fields that cannot be read stay empty.
ProcessStats ReadProcessStats();

}  // namespace moat::metrics
