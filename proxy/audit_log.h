// The security audit trail: one JSON line per refused connection or CONNECT, denial,
// ban, malformed packet and reload, to stderr or a file (reopened on SIGHUP for
// logrotate). Rate-limited per event, reason and source address, with a count of what
// was suppressed, so one address cannot hide another's events, and per event and reason
// overall, so a flood from many cannot fill the disk. Nothing secret is ever passed in:
// callers give identities, never credentials.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace moat::proxy {

struct AuditEvent {
  // refused_connect | refused_connection (before MQTT) | denial | ban | malformed | reload
  std::string_view event{};
  std::string_view reason{};  // closed set per event
  std::string_view rule{};
  std::string_view identity{};
  std::string_view client_id{};
  std::string_view address{};
  std::string_view listener{};
  std::string_view topic{};
  std::string_view action{};  // for denials: publish | subscribe | deliver | will | connect
  std::string_view mode{};    // for denials: enforce | audit
  std::string_view detail{};
};

class AuditLog {
 public:
  // `path` empty or "-": stderr. `per_second` lines may be written per (event, reason,
  // source address), with bursts of `burst`; ten times that per (event, reason).
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(std::string path, double per_second,
                                                        double burst);
  ~AuditLog();

  void Write(const AuditEvent& event);
  // logrotate moved the file away: start a new one at the configured path.
  absl::Status Reopen();

  // The process-wide log the data path writes to; null until set.
  static AuditLog* Get();
  static void Set(AuditLog* log);

 private:
  AuditLog(std::string path, std::FILE* file, double per_second, double burst);
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point refilled;
    uint64_t suppressed = 0;
  };
  void WriteLine(const std::string& line);
  // Takes a token from `bucket`, or counts the line as suppressed.
  static bool Take(Bucket& bucket, double per_second, double burst,
                   std::chrono::steady_clock::time_point now);
  void Prune(std::chrono::steady_clock::time_point now);

  static constexpr size_t kMaxBuckets = 10'000;
  static constexpr double kSourcesPerKind = 10;

  const std::string path_;
  std::FILE* file_;
  const double per_second_;
  const double burst_;
  std::mutex mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace moat::proxy
