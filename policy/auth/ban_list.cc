#include "policy/auth/ban_list.h"

#include "policy/network.h"

namespace moat::policy {

BanList::BanList(uint32_t failures, Clock::duration window, Clock::duration duration,
                 size_t max_entries)
    : failures_(failures), window_(window), duration_(duration), max_entries_(max_entries) {}

std::string BanList::AddressKey(std::string_view address) { return "ip:" + SourceKey(address); }

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

std::vector<BanList::ActiveBan> BanList::Active(Clock::time_point now, size_t limit) const {
  static constexpr std::string_view kAddress = "ip:";
  static constexpr std::string_view kUserAtAddress = "user@ip:";
  std::vector<ActiveBan> bans;
  std::lock_guard lock(mutex_);
  for (const auto& [key, entry] : entries_) {
    if (bans.size() >= limit) break;
    if (entry.banned_until <= now) continue;
    ActiveBan& ban = bans.emplace_back();
    ban.remaining = entry.banned_until - now;
    const std::string_view text = key;
    if (text.starts_with(kUserAtAddress)) {
      // "user@ip:SOURCE@USER": a source key holds no '@', a user name may.
      const std::string_view rest = text.substr(kUserAtAddress.size());
      const size_t at = rest.find('@');
      ban.address = std::string(rest.substr(0, at));
      ban.user = at == std::string_view::npos ? "" : std::string(rest.substr(at + 1));
    } else if (text.starts_with(kAddress)) {
      ban.address = std::string(text.substr(kAddress.size()));
    }
  }
  return bans;
}

bool BanList::Lift(std::string_view address, std::string_view user, Clock::time_point now) {
  const std::string key = user.empty() ? AddressKey(address) : UserAtAddressKey(user, address);
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.banned_until <= now) return false;
  entries_.erase(it);
  return true;
}

}  // namespace moat::policy
