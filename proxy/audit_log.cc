#include "proxy/audit_log.h"

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "policy/network.h"

namespace moat::proxy {
namespace {

std::atomic<AuditLog*> g_audit_log{nullptr};

void Put(boost::json::object& object, std::string_view key, std::string_view value) {
  if (!value.empty()) object[key] = value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(std::string path, double per_second,
                                                         double burst) {
  std::FILE* file = stderr;
  if (!path.empty() && path != "-") {
    file = std::fopen(path.c_str(), "a");
    if (file == nullptr) {
      return absl::InvalidArgumentError(path +
                                        ": cannot open the audit log: " + std::strerror(errno));
    }
  }
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(path), file, per_second, burst));
}

AuditLog::AuditLog(std::string path, std::FILE* file, double per_second, double burst)
    : path_(std::move(path)), file_(file), per_second_(per_second), burst_(burst) {}

AuditLog::~AuditLog() {
  if (file_ != stderr) std::fclose(file_);
}

AuditLog* AuditLog::Get() { return g_audit_log.load(std::memory_order_acquire); }
void AuditLog::Set(AuditLog* log) { g_audit_log.store(log, std::memory_order_release); }

absl::Status AuditLog::Reopen() {
  if (file_ == stderr) return absl::OkStatus();
  std::FILE* file = std::fopen(path_.c_str(), "a");
  if (file == nullptr) {
    return absl::InvalidArgumentError(path_ +
                                      ": cannot reopen the audit log: " + std::strerror(errno));
  }
  std::lock_guard lock(mutex_);
  std::fclose(file_);
  file_ = file;
  return absl::OkStatus();
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

void AuditLog::Write(const AuditEvent& event) {
  const auto now = std::chrono::steady_clock::now();
  // Per event, reason and source, so one address flooding refusals cannot hide another's;
  // and per event and reason in all, at kSourcesPerKind times the rate, so many addresses
  // together still cannot fill the disk.
  std::string kind(event.event);
  kind.append("/").append(event.reason);
  std::string key = kind;
  if (!event.address.empty()) key.append("/").append(policy::SourceKey(event.address));
  uint64_t suppressed = 0;
  {
    std::lock_guard lock(mutex_);
    if (buckets_.size() >= kMaxBuckets) Prune(now);
    Bucket& overall = buckets_.try_emplace(kind, Bucket{burst_ * kSourcesPerKind, now})
                          .first->second;
    Bucket& bucket = buckets_.try_emplace(key, Bucket{burst_, now}).first->second;
    if (!Take(bucket, per_second_, burst_, now)) return;
    if (&overall != &bucket &&
        !Take(overall, per_second_ * kSourcesPerKind, burst_ * kSourcesPerKind, now)) {
      return;
    }
    suppressed = bucket.suppressed;
    bucket.suppressed = 0;
  }
  boost::json::object line;
  line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  Put(line, "event", event.event);
  Put(line, "reason", event.reason);
  Put(line, "action", event.action);
  Put(line, "mode", event.mode);
  Put(line, "rule", event.rule);
  Put(line, "identity", event.identity);
  Put(line, "client_id", event.client_id);
  Put(line, "address", event.address);
  Put(line, "listener", event.listener);
  Put(line, "topic", event.topic);
  Put(line, "detail", event.detail);
  // The lines this one stands for that the rate limit dropped since the last one.
  if (suppressed > 0) line["suppressed"] = suppressed;
  WriteLine(boost::json::serialize(line));
}

void AuditLog::WriteLine(const std::string& line) {
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

}  // namespace moat::proxy
