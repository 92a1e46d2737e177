// Manual bans: what an operator banned through the admin API, by address or network,
// user, or client id, each with an optional expiry and a reason. Checked at accept (an
// address) and at CONNECT (a user or client id), so lookups take a shared lock and skip
// even that while there are no bans. Bounded by admin.max_bans. Thread-safe; time is
// passed in (Unix seconds), so tests need no clock. The automatic bans after failed
// logins are policy/auth/ban_list.h's, not these.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/network.h"

namespace moat::proxy::admin {

enum class BanKind : uint8_t { kAddress, kUser, kClientId };

struct ManualBan {
  BanKind kind = BanKind::kAddress;
  std::string value;                    // "192.0.2.0/24", "alice", "sensor-1": as given
  std::optional<int64_t> expires_at{};  // Unix seconds; nullopt: until unbanned
  std::string reason{};
  std::string created_by{};  // who banned: the admin API's actor
  int64_t created_at = 0;    // Unix seconds
  policy::Cidr network{};    // kAddress: what `value` parses to

  // "192.0.2.7", "192.0.2.0/24", "user:alice" or "client:sensor-1", as ctl and the API
  // name a ban.
  std::string Target() const;
};

// Parses a target as above into a ban with kind, value and network filled in; the error
// says what is wrong, for the API's 400 answer.
absl::StatusOr<ManualBan> ParseBanTarget(std::string_view target);

class BanStore {
 public:
  explicit BanStore(size_t max_bans) : max_bans_(max_bans) {}

  // Adds `ban`, or replaces the ban on the same target (a new expiry or reason).
  // ResourceExhausted when max_bans are in force and this is a new one.
  absl::Status Add(ManualBan ban, int64_t now);
  // False when no ban on that target was in force.
  bool Remove(BanKind kind, std::string_view value, int64_t now);
  // The bans in force, oldest first.
  std::vector<ManualBan> List(int64_t now) const;
  // Replaces every ban (loading the state file); those past their expiry are dropped.
  void Replace(std::vector<ManualBan> bans, int64_t now);

  bool AddressBanned(std::string_view address, int64_t now) const;
  bool UserBanned(std::string_view user, int64_t now) const;
  bool ClientIdBanned(std::string_view client_id, int64_t now) const;
  size_t size() const { return count_.load(std::memory_order_relaxed); }
  size_t max_bans() const { return max_bans_; }

 private:
  static bool InForce(const ManualBan& ban, int64_t now) {
    return !ban.expires_at || *ban.expires_at > now;
  }
  bool Matches(BanKind kind, std::string_view value, int64_t now) const;
  void PruneLocked(int64_t now);

  const size_t max_bans_;
  mutable std::shared_mutex mutex_;
  std::vector<ManualBan> bans_;
  std::atomic<size_t> count_{0};  // bans_.size(): lets lookups skip the lock when empty
};

}  // namespace moat::proxy::admin
