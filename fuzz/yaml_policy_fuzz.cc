// Arbitrary text as a native YAML policy into ParseYamlPolicy(): nothing may crash, leak
// or read out of bounds, and
//   - a refused policy gives only "policy.yaml:LINE: message" lines, LINE within the file
//     and in ascending order;
//   - an accepted policy holds what the loader promises: each rule has a unique id, at
//     least one action and one valid topic filter, a line within the file, and names only
//     groups it defines; it builds into an AclPolicy, and there a deny rule for everyone,
//     without conditions, refuses a PUBLISH to its own (wildcard-free) topic, whatever
//     else the policy allows.
//
//   input: the whole policy text
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "fuzz/problem_lines.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/topic_match.h"
#include "policy/acl/yaml_policy.h"
#include "policy/file_reading/file_text.h"

namespace {

using moat::fuzz::Check;
using moat::policy::AclPolicy;
using moat::policy::ClientIdentity;
using moat::policy::YamlPolicy;
using moat::policy::YamlRule;

constexpr std::string_view kFile = "policy.yaml";

// Whether a deny `rule` must refuse every client publishing to `topic`: the rule names
// everyone, has no condition that could leave a client out, and enforces.
bool DeniesEveryPublishTo(const YamlRule& rule, std::string_view topic) {
  return rule.deny && rule.everyone && rule.conditions.empty() && !rule.audit &&
         (rule.actions & moat::policy::kActionPublish) != 0 &&
         topic.find_first_of("+#%") == std::string_view::npos;
}

void CheckAccepted(std::string_view text, const YamlPolicy& policy) {
  const size_t lines = moat::file_reading::SplitLines(text).size();
  std::set<std::string> ids;
  for (const YamlRule& rule : policy.rules) {
    Check(!rule.id.empty() && ids.insert(rule.id).second, "rule id empty or repeated");
    Check(rule.line >= 1 && static_cast<size_t>(rule.line) <= lines, "rule line outside the file");
    Check(rule.actions != 0 && !rule.topics.empty(), "rule without actions or topics");
    for (const std::string& topic : rule.topics) {
      Check(moat::policy::RuleFilterProblem(topic).empty(), "rule keeps an invalid filter");
    }
    for (const std::string& group : rule.groups) {
      Check(policy.groups.contains(group), "rule names an undefined group");
    }
  }

  for (const auto& limit : policy.limits) {
    Check(!limit.id.empty() && ids.insert(limit.id).second, "limits id empty or repeated");
    Check(limit.messages || limit.bytes, "limits entry without a rate");
    for (const auto& rate : {limit.messages, limit.bytes}) {
      Check(!rate || (rate->per_second >= 0 && rate->burst >= 1), "rate below 0 or burst below 1");
    }
  }

  AclPolicy::Builder builder;
  moat::policy::AddYamlPolicy(policy, builder);
  const std::shared_ptr<const AclPolicy> acl = std::move(builder).Build(1);
  ClientIdentity client;
  client.username = "alice";
  client.client_id = "c1";
  client.address = "192.0.2.1";
  client.listener = "public";
  // A rate is found for anyone without throwing, whatever the entries say.
  (void)acl->RatesFor(client);
  for (const YamlRule& rule : policy.rules) {
    for (const std::string& topic : rule.topics) {
      const bool allowed = acl->MayPublish(client, topic, 0, false).allowed();
      if (DeniesEveryPublishTo(rule, topic))
        Check(!allowed, "a deny rule for everyone let through");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<YamlPolicy> policy = moat::policy::ParseYamlPolicy(text, kFile);
  if (policy.ok()) {
    CheckAccepted(text, *policy);
  } else {
    moat::fuzz::CheckRefusal(text, kFile, policy.status());
  }
  return 0;
}
