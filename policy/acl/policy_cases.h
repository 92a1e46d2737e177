// `moat policy test`: an operator's list of questions with the answers the policy must give,
// so an ACL can be kept under review in CI like code. The CLI (proxy/main.cc) loads the
// config and the policy; this reads the cases and judges them.
//
//   - user: hmi                  # who: user, groups, client_id, cert_identity, address,
//     action: subscribe          #   listener (any of them; none: an anonymous client)
//     topic: "plant/#"
//     expect: allow              # allow | deny
//     rule: acl-hmi              # optional: the deciding rule's id (native) or FILE:LINE
//     qos: 1                     # optional, 0 by default; retain: publish only
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/authorizer.h"

namespace moat::policy {

struct PolicyCase {
  int line = 0;  // of the case's first key, for messages
  ClientIdentity client;
  // A member of every one of these groups: with `user`, a claim the case checks; without,
  // the first user the policy puts in all of them stands in.
  std::vector<std::string> groups;
  Action action = Action::kPublish;  // kPublish or kSubscribe
  std::string topic;
  uint8_t qos = 0;
  bool retain = false;
  bool expect_allow = false;
  std::optional<std::string> rule;  // the deciding rule, when the case names it
};

// Every problem is reported as "FILE:LINE: message", all of them at once.
absl::StatusOr<std::vector<PolicyCase>> ParsePolicyCases(std::string_view text,
                                                         std::string_view filename);
absl::StatusOr<std::vector<PolicyCase>> LoadPolicyCases(const std::string& path);

// Group name -> members, from the native policy; empty without one.
using GroupMembers = std::map<std::string, std::vector<std::string>, std::less<>>;

inline constexpr int kCasesHold = 0;
inline constexpr int kCasesFail = 1;

// Asks `authorizer` every case and prints "CASES:LINE: ..." for each one that does not
// hold (what was expected, what was answered, by which rule at FILE:LINE), then a summary
// line "N cases, N failed". A case is judged as the policy would enforce it: an allow
// that only a rule in audit mode lets through counts as a deny, since audit mode is a
// rollout switch, not a verdict. Returns kCasesHold or kCasesFail.
int RunPolicyCases(const Authorizer& authorizer, const std::vector<PolicyCase>& cases,
                   const GroupMembers& groups, std::string_view cases_file, std::ostream& out);

}  // namespace moat::policy
