// The security audit trail: one JSON line per session admitted and ended, refused
// connection or CONNECT, denial, ban, malformed packet and reload, to stderr or a file
// (reopened on SIGHUP for logrotate), and optionally the same lines to syslog:
//
//   Write(AuditEvent) ──rate limit──► JSON line ──► file (or stderr)
//                                               └──► SyslogSink (RFC 5424, local socket)
//                                     a line a sink cannot take: moat_audit_lines_dropped_total
//
// Rate-limited per event, reason and source address, with a count of what was suppressed,
// so one address cannot hide another's events, and per event and reason overall, so a
// flood from many cannot fill the disk. Session lines are not rate-limited (see
// IsRateLimited). Nothing secret is ever passed in: callers give identities, never
// credentials.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "proxy/syslog_sink.h"

namespace moat::proxy {

// What a session_ended line counts, from admission to the end.
struct SessionTotals {
  int64_t duration_ms = 0;
  // MQTT packets as decoded: a PUBLISH is a message; bytes are whole packets, CONNECT
  // included, before any TLS or WebSocket framing.
  uint64_t messages_from_client = 0;
  uint64_t messages_from_broker = 0;
  uint64_t bytes_from_client = 0;
  uint64_t bytes_from_broker = 0;
};

struct AuditEvent {
  // session_admitted | session_ended | refused_connect | refused_connection (before MQTT)
  // | denial | rate_limited | ban | malformed | reload | admin (an admin API action) |
  // admin_refused (an admin API request without valid credentials)
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
  // session_admitted: how the client proved who it is, and over what.
  std::string_view auth{};  // anonymous | password | certificate | certificate_and_password
  std::string_view cert_fingerprint{};  // SHA-256 (hex) of the client certificate, if any
  std::string_view tls_version{};
  std::string_view tls_cipher{};
  std::string_view mqtt_version{};  // 3.1 | 3.1.1 | 5
  // session_ended
  const SessionTotals* totals = nullptr;
  // admin | admin_refused: who called the admin API ("bearer", "cert:SUBJECT sha256:...").
  std::string_view actor{};
};

// Admin lines are not rate-limited either: each is an authenticated operator's action.
// Session lines are not rate-limited: each stands for a login that passed authentication,
// already bounded by limits.max_connections and the per-address connection rate, and an
// admitted line without its ended line (or the reverse) would leave a hole in the trail.
bool IsRateLimited(std::string_view event);

class AuditLog {
 public:
  // `path` empty or "-": stderr. `per_second` lines may be written per (event, reason,
  // source address), with bursts of `burst`; ten times that per (event, reason).
  // `syslog`, if given, gets a copy of every line written.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      std::string path, double per_second, double burst,
      std::unique_ptr<SyslogSink> syslog = nullptr);
  ~AuditLog();

  void Write(const AuditEvent& event);
  // logrotate moved the file away: start a new one at the configured path.
  absl::Status Reopen();
  // A reload's audit settings: `other` (opened with them, so a file that cannot be opened
  // refused the reload) gives this log its file, rates and syslog sink, and takes this
  // log's old ones, which close with it. The rate buckets carry on.
  void Adopt(AuditLog& other);
  // Lines a sink loses are counted in `registry`'s moat_audit_lines_dropped_total from now
  // on. Call before the log is used from other threads.
  void CountDropsIn(metrics::MetricsRegistry* registry) { drops_ = registry; }

  // The process-wide log the data path writes to; null until set.
  static AuditLog* Get();
  static void Set(AuditLog* log);

 private:
  AuditLog(std::string path, std::FILE* file, double per_second, double burst,
           std::unique_ptr<SyslogSink> syslog);
  // Takes the line unless its (event, reason, source) or (event, reason) is over the
  // rate; then the count of lines suppressed before it.
  std::optional<uint64_t> Admit(const AuditEvent& event);
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point refilled;
    uint64_t suppressed = 0;
  };
  void WriteLine(const AuditEvent& event, const std::string& line, absl::Time time);
  void Dropped(metrics::AuditSink sink);
  // Takes a token from `bucket`, or counts the line as suppressed.
  static bool Take(Bucket& bucket, double per_second, double burst,
                   std::chrono::steady_clock::time_point now);
  void Prune(std::chrono::steady_clock::time_point now);

  static constexpr size_t kMaxBuckets = 10'000;
  static constexpr double kSourcesPerKind = 10;

  std::mutex mutex_;  // guards what follows; Adopt() may change any of it
  std::string path_;
  std::FILE* file_;
  double per_second_;
  double burst_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::shared_ptr<SyslogSink> syslog_;  // shared: a sender holds it outside the lock
  metrics::MetricsRegistry* drops_ = nullptr;
};

}  // namespace moat::proxy
