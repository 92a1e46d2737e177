// The last PUBLISH and delivery decisions of one session, keyed by what decides them
// (action, QoS, retain, topic). Devices publish to the same few topics over and over, so
// most packets are answered here without asking the policy. Dropped whole when the policy
// changes, or when the next entry would not fit.
//
// Bounded in bytes, not entries: 64 entries of 1,024-byte topics (limits.max_topic_length)
// would be 75 KiB per session, four idle TLS connections' worth, for a client that only
// has to cycle through long topic names to get it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "policy/authorizer.h"

namespace moat::proxy {

class DecisionCache {
 public:
  // 16 KiB, one read chunk: it holds the 64 decisions the cache used to be capped at
  // while their topics average under 100 bytes, which nearly every device's do.
  static constexpr size_t kMaxBytes = 16 * 1024;
  // What an entry costs besides its topic: the hash node (key string, Decision, next
  // pointer, cached hash), its bucket slot, the key's own heap block once it outgrows the
  // string's inline buffer, and malloc's header on each. Measured as 152-176 bytes with
  // glibc on x86-64; rounded up so the bound holds with some margin.
  static constexpr size_t kEntryOverhead = 192;

  enum class Action : char { kPublish = 'p', kReceive = 'r' };

  // The decision for a PUBLISH (`qos`, `retain`) or a delivery (both ignored) of `topic`.
  policy::Decision Decide(Action action, std::string_view topic, uint8_t qos, bool retain,
                          const policy::ClientIdentity& identity,
                          const policy::Authorizer& authorizer);

  // What the entries cost, as counted against kMaxBytes.
  size_t bytes() const { return bytes_; }
  size_t size() const { return decisions_.size(); }

 private:
  void Clear();

  std::unordered_map<std::string, policy::Decision> decisions_;
  size_t bytes_ = 0;
  const policy::Authorizer* from_ = nullptr;
  uint64_t version_ = 0;
};

}  // namespace moat::proxy
