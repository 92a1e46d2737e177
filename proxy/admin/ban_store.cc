#include "proxy/admin/ban_store.h"

#include <algorithm>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace moat::proxy::admin {

std::string ManualBan::Target() const {
  switch (kind) {
    case BanKind::kUser:
      return "user:" + value;
    case BanKind::kClientId:
      return "client:" + value;
    case BanKind::kAddress:
      break;
  }
  return value;
}

absl::StatusOr<ManualBan> ParseBanTarget(std::string_view target) {
  ManualBan ban;
  constexpr std::string_view kUser = "user:";
  constexpr std::string_view kClient = "client:";
  if (target.starts_with(kUser)) {
    ban.kind = BanKind::kUser;
    ban.value = std::string(target.substr(kUser.size()));
  } else if (target.starts_with(kClient)) {
    ban.kind = BanKind::kClientId;
    ban.value = std::string(target.substr(kClient.size()));
  } else {
    std::string error;
    const std::optional<policy::Cidr> network = policy::ParseCidr(target, &error);
    if (!network) {
      return absl::InvalidArgumentError(
          absl::StrCat("ban target '", std::string(target),
                       "' is not an address, a CIDR, user:NAME or client:ID (", error, ")"));
    }
    ban.kind = BanKind::kAddress;
    ban.value = std::string(target);
    ban.network = *network;
  }
  // MQTT strings are at most 65535 bytes; an empty name would ban anonymous clients or
  // every client without an id, which no one should do by accident.
  if (ban.value.empty() || ban.value.size() > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("ban target '", std::string(target), "' names nothing"));
  }
  return ban;
}

absl::Status BanStore::Add(ManualBan ban, int64_t now) {
  std::unique_lock lock(mutex_);
  PruneLocked(now);
  const auto same = std::find_if(bans_.begin(), bans_.end(), [&](const ManualBan& existing) {
    return existing.kind == ban.kind && existing.value == ban.value;
  });
  if (same != bans_.end()) {
    *same = std::move(ban);
    return absl::OkStatus();
  }
  if (bans_.size() >= max_bans_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("admin.max_bans (", max_bans_, ") bans are in force already"));
  }
  bans_.push_back(std::move(ban));
  count_.store(bans_.size(), std::memory_order_relaxed);
  return absl::OkStatus();
}

bool BanStore::Remove(BanKind kind, std::string_view value, int64_t now) {
  std::unique_lock lock(mutex_);
  PruneLocked(now);
  const size_t removed = std::erase_if(
      bans_, [&](const ManualBan& ban) { return ban.kind == kind && ban.value == value; });
  count_.store(bans_.size(), std::memory_order_relaxed);
  return removed > 0;
}

std::vector<ManualBan> BanStore::List(int64_t now) const {
  std::shared_lock lock(mutex_);
  std::vector<ManualBan> list;
  for (const ManualBan& ban : bans_) {
    if (InForce(ban, now)) list.push_back(ban);
  }
  return list;
}

void BanStore::Replace(std::vector<ManualBan> bans, int64_t now) {
  std::unique_lock lock(mutex_);
  bans_ = std::move(bans);
  PruneLocked(now);
  if (bans_.size() > max_bans_) bans_.resize(max_bans_);
  count_.store(bans_.size(), std::memory_order_relaxed);
}

void BanStore::PruneLocked(int64_t now) {
  std::erase_if(bans_, [&](const ManualBan& ban) { return !InForce(ban, now); });
  count_.store(bans_.size(), std::memory_order_relaxed);
}

bool BanStore::Matches(BanKind kind, std::string_view value, int64_t now) const {
  if (count_.load(std::memory_order_relaxed) == 0) return false;
  std::shared_lock lock(mutex_);
  return std::any_of(bans_.begin(), bans_.end(), [&](const ManualBan& ban) {
    return ban.kind == kind && ban.value == value && InForce(ban, now);
  });
}

bool BanStore::AddressBanned(std::string_view address, int64_t now) const {
  if (count_.load(std::memory_order_relaxed) == 0) return false;
  const auto parsed = policy::ParseAddress(address);
  if (!parsed) return false;
  std::shared_lock lock(mutex_);
  return std::any_of(bans_.begin(), bans_.end(), [&](const ManualBan& ban) {
    return ban.kind == BanKind::kAddress && InForce(ban, now) &&
           policy::CidrContains(ban.network, *parsed);
  });
}

bool BanStore::UserBanned(std::string_view user, int64_t now) const {
  return !user.empty() && Matches(BanKind::kUser, user, now);
}

bool BanStore::ClientIdBanned(std::string_view client_id, int64_t now) const {
  return !client_id.empty() && Matches(BanKind::kClientId, client_id, now);
}

}  // namespace moat::proxy::admin
