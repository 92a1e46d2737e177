#include "proxy/auth/client_ids.h"

namespace moat::proxy {

std::string ClientIds::IdentityKey(std::string_view username, std::string_view cert_identity) {
  // A NUL cannot appear in either: MQTT strings and certificate names exclude it.
  std::string key(username);
  key.push_back('\0');
  key.append(cert_identity);
  return key;
}

bool ClientIds::Claim(std::string_view client_id, std::string_view identity, bool persistent) {
  std::lock_guard lock(mutex_);
  if (identity == kAnonymous) {
    // Anonymous clients own nothing (anyone may be one): they only must not take what
    // an identity holds, and leave nothing to release.
    const auto it = holders_.find(std::string(client_id));
    return it == holders_.end() || it->second.identity == identity;
  }
  auto [it, inserted] = holders_.try_emplace(std::string(client_id));
  Holder& holder = it->second;
  if (!inserted && holder.identity != identity && (holder.live > 0 || holder.persistent)) {
    return false;
  }
  if (!inserted && holder.live == 0 && holder.persistent) recent_.erase(holder.recent);
  if (inserted || holder.identity != identity) {
    holder.identity = std::string(identity);
    holder.live = 0;
  }
  ++holder.live;
  holder.persistent = persistent;
  return true;
}

void ClientIds::Release(std::string_view client_id) {
  std::lock_guard lock(mutex_);
  const auto it = holders_.find(std::string(client_id));
  if (it == holders_.end() || it->second.live == 0) return;
  Holder& holder = it->second;
  if (--holder.live > 0) return;
  if (!holder.persistent) {
    holders_.erase(it);
    return;
  }
  holder.recent = recent_.insert(recent_.end(), it->first);
  while (recent_.size() > max_remembered_) Forget(holders_.find(recent_.front()));
}

void ClientIds::Forget(std::unordered_map<std::string, Holder>::iterator it) {
  recent_.erase(it->second.recent);
  holders_.erase(it);
}

size_t ClientIds::size() const {
  std::lock_guard lock(mutex_);
  return holders_.size();
}

}  // namespace moat::proxy
