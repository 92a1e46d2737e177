#include "proxy/decision_cache.h"

namespace moat::proxy {

void DecisionCache::Clear() {
  decisions_.clear();
  bytes_ = 0;
}

policy::Decision DecisionCache::Decide(Action action, std::string_view topic, uint8_t qos,
                                       bool retain, const policy::ClientIdentity& identity,
                                       const policy::Authorizer& authorizer) {
  if (from_ != &authorizer || version_ != authorizer.version()) {
    Clear();
    from_ = &authorizer;
    version_ = authorizer.version();
  }
  std::string key;
  key.reserve(topic.size() + 3);
  key.push_back(static_cast<char>(action));
  key.push_back(static_cast<char>('0' + qos));
  key.push_back(retain ? 'r' : '-');
  key.append(topic);
  if (const auto it = decisions_.find(key); it != decisions_.end()) return it->second;
  const policy::Decision decision = action == Action::kPublish
                                        ? authorizer.MayPublish(identity, topic, qos, retain)
                                        : authorizer.MayReceive(identity, topic);
  const size_t cost = key.size() + kEntryOverhead;
  // Only a limits.max_topic_length far above the default makes one entry too big to keep.
  if (cost > kMaxBytes) return decision;
  if (bytes_ + cost > kMaxBytes) Clear();
  decisions_.emplace(std::move(key), decision);
  bytes_ += cost;
  return decision;
}

}  // namespace moat::proxy
