#include "proxy/audit_log.h"

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "policy/network.h"

namespace moat::proxy {
namespace {

std::atomic<AuditLog*> g_audit_log{nullptr};

void Put(boost::json::object& object, std::string_view key, std::string_view value) {
  if (!value.empty()) object[key] = value;
}

void PutTotals(boost::json::object& line, const SessionTotals& totals) {
  line["duration_ms"] = totals.duration_ms;
  line["messages_from_client"] = totals.messages_from_client;
  line["messages_from_broker"] = totals.messages_from_broker;
  line["bytes_from_client"] = totals.bytes_from_client;
  line["bytes_from_broker"] = totals.bytes_from_broker;
}

// What a SIEM sorts by: the ordinary life of sessions and reloads is informational, a
// refusal or denial notable, a ban (someone was guessing) and a failed reload more so.
SyslogSeverity SeverityOf(const AuditEvent& event) {
  if (event.event == "reload") {
    return event.reason == "failure" ? SyslogSeverity::kError : SyslogSeverity::kInformational;
  }
  if (!IsRateLimited(event.event)) return SyslogSeverity::kInformational;
  if (event.event == "ban") return SyslogSeverity::kWarning;
  return SyslogSeverity::kNotice;
}

}  // namespace

bool IsRateLimited(std::string_view event) {
  return event != "session_admitted" && event != "session_ended" && event != "admin";
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(std::string path, double per_second,
                                                         double burst,
                                                         std::unique_ptr<SyslogSink> syslog) {
  std::FILE* file = stderr;
  if (!path.empty() && path != "-") {
    file = std::fopen(path.c_str(), "a");
    if (file == nullptr) {
      return absl::InvalidArgumentError(path +
                                        ": cannot open the audit log: " + std::strerror(errno));
    }
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(std::move(path), file, per_second, burst, std::move(syslog)));
}

AuditLog::AuditLog(std::string path, std::FILE* file, double per_second, double burst,
                   std::unique_ptr<SyslogSink> syslog)
    : path_(std::move(path)),
      file_(file),
      per_second_(per_second),
      burst_(burst),
      syslog_(std::move(syslog)) {}

AuditLog::~AuditLog() {
  if (file_ != stderr) std::fclose(file_);
}

AuditLog* AuditLog::Get() { return g_audit_log.load(std::memory_order_acquire); }
void AuditLog::Set(AuditLog* log) { g_audit_log.store(log, std::memory_order_release); }

absl::Status AuditLog::Reopen() {
  std::string path;
  {
    std::lock_guard lock(mutex_);
    if (file_ == stderr) return absl::OkStatus();
    path = path_;
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::InvalidArgumentError(path +
                                      ": cannot reopen the audit log: " + std::strerror(errno));
  }
  std::lock_guard lock(mutex_);
  std::fclose(file_);
  file_ = file;
  return absl::OkStatus();
}

void AuditLog::Adopt(AuditLog& other) {
  std::scoped_lock lock(mutex_, other.mutex_);
  std::swap(path_, other.path_);
  std::swap(file_, other.file_);
  std::swap(per_second_, other.per_second_);
  std::swap(burst_, other.burst_);
  std::swap(syslog_, other.syslog_);
}

bool AuditLog::Take(Bucket& bucket, double per_second, double burst,
                    std::chrono::steady_clock::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - bucket.refilled).count();
  bucket.tokens = std::min(burst, bucket.tokens + elapsed * per_second);
  bucket.refilled = now;
  if (bucket.tokens < 1) {
    ++bucket.suppressed;
    return false;
  }
  bucket.tokens -= 1;
  return true;
}

void AuditLog::Prune(std::chrono::steady_clock::time_point now) {
  // Buckets that are full again and owe no count tell nothing: an address spraying
  // sources cannot grow the map past what the rate lets it fill.
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& bucket = entry.second;
    const double elapsed = std::chrono::duration<double>(now - bucket.refilled).count();
    return bucket.suppressed == 0 && bucket.tokens + elapsed * per_second_ >= burst_;
  });
  if (buckets_.size() >= kMaxBuckets) buckets_.clear();
}

std::optional<uint64_t> AuditLog::Admit(const AuditEvent& event) {
  if (!IsRateLimited(event.event)) return 0;
  const auto now = std::chrono::steady_clock::now();
  // Per event, reason and source, so one address flooding refusals cannot hide another's;
  // and per event and reason in all, at kSourcesPerKind times the rate, so many addresses
  // together still cannot fill the disk.
  std::string kind(event.event);
  kind.append("/").append(event.reason);
  std::string key = kind;
  if (!event.address.empty()) key.append("/").append(policy::SourceKey(event.address));
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= kMaxBuckets) Prune(now);
  Bucket& overall = buckets_.try_emplace(kind, Bucket{burst_ * kSourcesPerKind, now}).first->second;
  Bucket& bucket = buckets_.try_emplace(key, Bucket{burst_, now}).first->second;
  if (!Take(bucket, per_second_, burst_, now)) return std::nullopt;
  if (&overall != &bucket &&
      !Take(overall, per_second_ * kSourcesPerKind, burst_ * kSourcesPerKind, now)) {
    return std::nullopt;
  }
  return std::exchange(bucket.suppressed, 0);
}

void AuditLog::Write(const AuditEvent& event) {
  const std::optional<uint64_t> suppressed = Admit(event);
  if (!suppressed) return;
  const absl::Time time = absl::Now();
  boost::json::object line;
  line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  Put(line, "event", event.event);
  Put(line, "reason", event.reason);
  Put(line, "action", event.action);
  Put(line, "mode", event.mode);
  Put(line, "rule", event.rule);
  Put(line, "actor", event.actor);
  Put(line, "identity", event.identity);
  Put(line, "auth", event.auth);
  Put(line, "cert_fingerprint", event.cert_fingerprint);
  Put(line, "client_id", event.client_id);
  Put(line, "address", event.address);
  Put(line, "listener", event.listener);
  Put(line, "mqtt_version", event.mqtt_version);
  Put(line, "tls_version", event.tls_version);
  Put(line, "tls_cipher", event.tls_cipher);
  Put(line, "topic", event.topic);
  Put(line, "detail", event.detail);
  if (event.totals != nullptr) PutTotals(line, *event.totals);
  // The lines this one stands for that the rate limit dropped since the last one.
  if (*suppressed > 0) line["suppressed"] = *suppressed;
  WriteLine(event, boost::json::serialize(line), time);
}

void AuditLog::WriteLine(const AuditEvent& event, const std::string& line, absl::Time time) {
  // Outside the lock: the send never waits, and datagrams need no order between threads.
  std::shared_ptr<SyslogSink> syslog;
  {
    std::lock_guard lock(mutex_);
    syslog = syslog_;
  }
  if (syslog && !syslog->Send(SeverityOf(event), event.event, line, time)) {
    Dropped(metrics::AuditSink::kSyslog);
  }
  // One write(2) per line: stderr is unbuffered, where a separate newline would be a
  // second system call on every session's two lines.
  std::string text;
  text.reserve(line.size() + 1);
  text.append(line).push_back('\n');
  std::lock_guard lock(mutex_);
  const bool written =
      std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0;
  if (!written) {
    // A full disk may have room again for the next line: the error must not stick.
    std::clearerr(file_);
    Dropped(metrics::AuditSink::kFile);
  }
}

void AuditLog::Dropped(metrics::AuditSink sink) {
  if (drops_ != nullptr) drops_->Add<metrics::Metric::kAuditLinesDroppedTotal>(sink);
}

}  // namespace moat::proxy
