// Temporary bans after repeated failures, by key: a source address, or a user name as
// tried from one address (so a stranger's guesses never lock the owner out). Thread-safe;
// time is passed in, so tests need no clock. Memory is bounded: when full, failure counts
// (never active bans) are forgotten first.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moat::policy {

class BanList {
 public:
  using Clock = std::chrono::steady_clock;

  BanList(uint32_t failures, Clock::duration window, Clock::duration duration,
          size_t max_entries = 100'000);

  // The keys moat bans by. `address` is a client's source address as moat records it;
  // IPv6 addresses count by their /64, which one host usually has to itself.
  static std::string AddressKey(std::string_view address);
  static std::string UserAtAddressKey(std::string_view user, std::string_view address);
  // Failures for a user from anywhere: counted (CountFailure), never banned.
  static std::string UserKey(std::string_view user);

  bool IsBanned(std::string_view key, Clock::time_point now) const;
  // Returns true when this failure starts a ban.
  bool RecordFailure(std::string_view key, Clock::time_point now);
  // Counts a failure without ever banning; returns the failures within the window, this
  // one included.
  uint32_t CountFailure(std::string_view key, Clock::time_point now);
  uint32_t failures_per_ban() const { return failures_; }
  size_t ActiveBans(Clock::time_point now) const;

  // A ban in force, for an operator to see (the admin API).
  struct ActiveBan {
    std::string address;  // the source as banned: an IPv4 address or an IPv6 /64
    std::string user;     // empty: the address is banned for everyone
    Clock::duration remaining;
  };
  // The bans in force, at most `limit` of them (in no order).
  std::vector<ActiveBan> Active(Clock::time_point now, size_t limit) const;
  // Ends the ban on `address` (`user` empty) or on `user` from `address`, and forgets
  // the failures that led to it: an operator unlocking a client. False when none was in
  // force.
  bool Lift(std::string_view address, std::string_view user, Clock::time_point now);

 private:
  struct Entry {
    uint32_t failures = 0;
    Clock::time_point window_start;
    Clock::time_point banned_until;
  };
  void Prune(Clock::time_point now);

  const uint32_t failures_;
  const Clock::duration window_;
  const Clock::duration duration_;
  const size_t max_entries_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace moat::policy
