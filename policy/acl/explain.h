// `moat policy explain`: asks the policy one question and prints the answer with the rule
// that decided it, for operators debugging an ACL. The CLI parsing and config loading live
// in proxy/main.cc; this takes what they produced.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "policy/authorizer.h"

namespace moat::policy {

// "publish" or "subscribe", the questions `explain` answers; nullopt for anything else.
std::optional<Action> ParseExplainAction(std::string_view word);

struct ExplainRequest {
  ClientIdentity client;  // --user, --client-id, --cert-cn, --ip (and a listener, if known)
  Action action = Action::kPublish;  // kPublish or kSubscribe
  std::string topic;                 // a topic name to publish, or a filter to subscribe to
  uint8_t qos = 0;
  bool retain = false;
};

inline constexpr int kExplainAllow = 0;
inline constexpr int kExplainDeny = 3;
inline constexpr int kExplainBadInput = 1;

// Prints one line to `out`:
//   allow acl:12
//   allow acl:3 (partial: acl:4 withholds what it denies at delivery)      (subscribe)
//   allow rule dash at policy.yaml:2 (granted at QoS 1)                     (subscribe)
//   allow rule operators-all at policy.yaml:4
//   allow rule sensors at policy.yaml:3 (max_payload 256 bytes)            (publish)
//   deny acl:7 (deny_rule)
//   deny rule dev-cn at policy.yaml:9 (qos_limit)
//   deny (no_rule: nothing grants it)
//   allow (audit: would be denied by rule legacy at policy.yaml:20, deny_rule)
//   allow (audit: would be denied, no_rule: nothing grants it)       (policy.mode: audit)
// and returns kExplainAllow (audit-mode allows too: the request gets through) or
// kExplainDeny. A topic that is no valid topic name (publish)
// or filter (subscribe) is reported on `err` and returns kExplainBadInput.
int RunPolicyExplain(const Authorizer& authorizer, const ExplainRequest& request, std::ostream& out,
                     std::ostream& err);

}  // namespace moat::policy
