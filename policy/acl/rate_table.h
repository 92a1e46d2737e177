// The native policy's `limits` entries: which message and byte rates apply to a client.
// Asked once per session (at login and after a reload), so a plain scan in file order.
//
// Precedence: an entry that selects a client replaces moat.yaml's rate for it (an entry
// may raise a rate as well as lower it); where several entries select the same client,
// the strictest rate wins, messages and bytes each on their own, and among equal ones
// the first in the file names the decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/acl/conditions.h"
#include "policy/authorizer.h"
#include "policy/rate_limits.h"

namespace moat::policy {

struct RateLimitSpec {
  std::string id;
  // Who: everyone its conditions select, or the named users and/or anonymous clients.
  bool everyone = false;
  bool anonymous = false;
  std::vector<std::string> users;
  std::vector<std::string> groups;  // native groups named: token groups select it too
  ClientConditions conditions;
  std::optional<Rate> messages;
  std::optional<Rate> bytes;
  uint16_t label = 0;  // RuleLabels number of `id`
};

class RateTable {
 public:
  void Add(RateLimitSpec spec);
  RateOverrides For(const ClientIdentity& client) const;
  bool empty() const { return entries_.empty(); }

 private:
  static bool Selects(const RateLimitSpec& entry, const ClientIdentity& client);
  std::vector<RateLimitSpec> entries_;  // in file order; `users` sorted
};

}  // namespace moat::policy
