#include "policy/auth/ban_list.h"

#include "policy/network.h"

namespace moat::policy {

BanList::BanList(uint32_t failures, Clock::duration window, Clock::duration duration,
                 size_t max_entries)
    : failures_(failures), window_(window), duration_(duration), max_entries_(max_entries) {}

std::string BanList::AddressKey(std::string_view address) {
  return "ip:" + SourceKey(address);
}

std::string BanList::UserAtAddressKey(std::string_view user, std::string_view address) {
  // The address first: a user name may hold any character, an address key none of '@'.
  return "user@ip:" + SourceKey(address) + "@" + std::string(user);
}

std::string BanList::UserKey(std::string_view user) { return "user:" + std::string(user); }

uint32_t BanList::CountFailure(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_entries_) Prune(now);
  Entry& entry = entries_[std::string(key)];
  if (entry.failures == 0 || now - entry.window_start > window_) {
    entry.failures = 0;
    entry.window_start = now;
  }
  return ++entry.failures;
}

bool BanList::IsBanned(std::string_view key, Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(std::string(key));
  return it != entries_.end() && it->second.banned_until > now;
}

bool BanList::RecordFailure(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_entries_) Prune(now);
  Entry& entry = entries_[std::string(key)];
  if (entry.banned_until > now) return false;
  if (entry.failures == 0 || now - entry.window_start > window_) {
    entry.failures = 0;
    entry.window_start = now;
  }
  if (++entry.failures < failures_) return false;
  entry.failures = 0;
  entry.banned_until = now + duration_;
  return true;
}

size_t BanList::ActiveBans(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  size_t active = 0;
  for (const auto& [key, entry] : entries_) active += entry.banned_until > now ? 1 : 0;
  return active;
}

void BanList::Prune(Clock::time_point now) {
  std::erase_if(entries_, [&](const auto& item) {
    const Entry& e = item.second;
    return e.banned_until <= now && now - e.window_start > window_;
  });
  if (entries_.size() < max_entries_) return;
  // Still full: an attacker spraying addresses. Keep the bans, drop the counts.
  std::erase_if(entries_, [&](const auto& item) { return item.second.banned_until <= now; });
}

}  // namespace moat::policy
