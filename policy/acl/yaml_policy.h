// moat's native policy file (YAML): named rules with conditions and limits.
//
//   groups:                          # optional: group name -> user names
//     operators: [alice, bob]
//   rules:
//     - id: operators-all            # required, unique; what decisions and logs name
//       effect: allow                # allow | deny (required); deny always wins
//       actions: [publish, subscribe]  # required; subscribe also grants delivery
//       topics: ["plant/#", "users/%u/#"]  # required; %u = username, %c = client id,
//                                    # in any level ("spBv1.0/g/NDATA/%u", "site-%u/#")
//       # who (at least one): users, groups, anonymous: true, everyone: true,
//       # or client_ids / cert_identities alone
//       groups: [operators]
//       # further conditions; each given list must match (any entry of it)
//       client_ids: ["ops-*"]        # globs: * and ?
//       cert_identities: ["CN=ops"]
//       addresses: ["10.0.0.0/8", "2001:db8::/32"]
//       listeners: [internal]
//       # limits (allow rules only)
//       max_qos: 1
//       retain: false
//       max_payload: 4096            # bytes of a PUBLISH payload (publish rules)
//       payload: sparkplug_b         # what a PUBLISH payload must be (publish rules;
//                                    # policy/payload/payload_format.h)
//       mode: audit                  # enforce (default) | audit: report, refuse nothing
//   limits:                          # optional: rates per client, over moat.yaml's limits
//     - id: slow-sensors             # required, unique among rules and limits
//       client_ids: ["sensor-*"]     # who: the same keys as a rule's
//       messages_per_second: 10      # PUBLISH packets from the client; 0: unlimited
//       message_burst: 20            # optional: one second's worth by default
//       bytes_per_second: 65536      # every packet from the client; 0: unlimited
//       byte_burst: 131072           # optional: one second's worth by default
//
// Unknown keys, duplicate keys and ids, ids reserved for metric labels (RuleLabels), and
// every malformed value are reported as "FILE:LINE: message", all of them, and the file is
// refused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/conditions.h"
#include "policy/rule_labels.h"

namespace moat::policy {

// Who a rule or a limits entry is for: the same keys in both.
struct YamlWho {
  std::vector<std::string> users;
  std::vector<std::string> groups;
  bool anonymous = false;
  bool everyone = false;
  ClientConditions conditions;
};

struct YamlRule : YamlWho {
  std::string id;
  int line = 0;  // of the rule's first key
  bool deny = false;
  uint8_t actions = 0;  // kActionPublish | kActionRead
  std::vector<std::string> topics;
  uint8_t max_qos = 2;
  bool allow_retain = true;
  uint32_t max_payload = kNoPayloadLimit;
  PayloadFormat payload_format = PayloadFormat::kAny;  // payload:
  bool audit = false;                                  // mode: audit
};

// A `limits` entry: rates for the clients it selects (policy/acl/rate_table.h).
struct YamlRateLimit : YamlWho {
  std::string id;
  int line = 0;
  std::optional<Rate> messages;
  std::optional<Rate> bytes;
};

struct YamlPolicy {
  std::string filename;
  std::map<std::string, std::vector<std::string>, std::less<>> groups;
  std::vector<YamlRule> rules;        // in file order
  std::vector<YamlRateLimit> limits;  // in file order
};

absl::StatusOr<YamlPolicy> LoadYamlPolicy(const std::string& path);
absl::StatusOr<YamlPolicy> ParseYamlPolicy(std::string_view text, std::string_view filename);

// Adds every rule, in file order, with groups expanded to their members; rules that can
// refuse something get their metric label from `labels`.
void AddYamlPolicy(const YamlPolicy& policy, AclPolicy::Builder& builder,
                   RuleLabels& labels = RuleLabels::Global());

}  // namespace moat::policy
