// Arbitrary bytes into ParseAclFile(): nothing may crash, leak or read out of bounds, and
//   - a refused file gives only "fuzz:LINE: message" lines, LINE within the file and in
//     ascending order;
//   - an accepted file builds an AclPolicy whose every answer (verdict and deciding line),
//     for PUBLISH, delivery and SUBSCRIBE, for questions made from the file's own filters
//     and users, equals that of tests/policy_acl/reference_policy.h, which tries every line
//     every time without the trie.
//
//   input: the whole file text
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/problem_lines.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/topic_match.h"
#include "tests/policy_acl/reference_policy.h"

namespace {

using moat::fuzz::Check;
using moat::policy::AclFile;
using moat::policy::AclPolicy;
using moat::policy::AclScope;
using moat::policy::ClientIdentity;
using moat::policy::Decision;
using moat::policy::SubscriptionGrant;
using moat::policy::test::ReferencePolicy;

// A topic name `filter` can match for `client`: wildcards and placeholders filled in.
std::string ConcreteTopic(std::string_view filter, const ClientIdentity& client, bool deeper) {
  std::string topic;
  for (size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c == '%' && i + 1 < filter.size() && (filter[i + 1] == 'u' || filter[i + 1] == 'c')) {
      topic += filter[i + 1] == 'u' ? client.username : client.client_id;
      ++i;
    } else if (c == '+') {
      topic += deeper ? "" : "p";
    } else if (c == '#') {
      if (!topic.empty()) topic.pop_back();  // '#' matches the parent too
      if (deeper) topic += "/h/i";
    } else {
      topic.push_back(c);
    }
  }
  return topic.empty() ? "e" : topic;
}

// The two policies differ only in their SubscriptionGrant: `policy` grants only filters
// whose every topic may be read (ReferencePolicy::Decide), `any_readable` (the default)
// those under which some topic may be (ReferencePolicy::DecideAnyReadable).
struct Policies {
  std::shared_ptr<const AclPolicy> all_readable;
  std::shared_ptr<const AclPolicy> any_readable;
};

void CompareAnyReadable(const AclPolicy& policy, const ReferencePolicy& reference,
                        const ClientIdentity& client, const std::string& filter) {
  const Decision got = policy.MaySubscribe(client, filter, 0);
  const auto [allowed, rule] = reference.DecideAnyReadable(client, filter);
  Check(got.allowed() == allowed, "any_readable verdict differs from the naive evaluator");
  // A grant names the first granting rule the walk meets; a refusal's rule is defined.
  Check(allowed || got.rule == rule, "any_readable refusing rule differs from the naive one");
}

void Compare(const Policies& policies, const ReferencePolicy& reference,
             const ClientIdentity& client, ReferencePolicy::Action action,
             const std::string& topic) {
  const AclPolicy& policy = *policies.all_readable;
  if (action == ReferencePolicy::Action::kSubscribe) {
    CompareAnyReadable(*policies.any_readable, reference, client, topic);
  }
  Decision got;
  switch (action) {
    case ReferencePolicy::Action::kPublish:
      got = policy.MayPublish(client, topic, 0, false);
      break;
    case ReferencePolicy::Action::kReceive:
      got = policy.MayReceive(client, topic);
      break;
    case ReferencePolicy::Action::kSubscribe:
      got = policy.MaySubscribe(client, topic, 0);
      break;
  }
  const auto [allowed, rule] = reference.Decide(client, action, topic);
  Check(got.allowed() == allowed, "verdict differs from the naive evaluator");
  Check(got.rule == rule, "deciding rule differs from the naive evaluator");
}

std::shared_ptr<const AclPolicy> Build(const AclFile& file, SubscriptionGrant grant) {
  AclPolicy::Builder builder;
  builder.SetSubscriptionGrant(grant);
  moat::policy::AddAclFile(file, builder);
  return std::move(builder).Build(1);
}

void CheckAccepted(const AclFile& file) {
  const Policies policy{Build(file, SubscriptionGrant::kAllReadable),
                        Build(file, SubscriptionGrant::kAnyReadable)};
  const ReferencePolicy reference(file);

  std::vector<ClientIdentity> clients(4);
  clients[0].client_id = "c1";  // anonymous
  clients[1].username = "+";    // identities that must not gain wildcard power
  clients[1].client_id = "a/b";
  clients[2].username = "u";
  clients[2].client_id = "#";
  clients[3].username = "alice";
  clients[3].client_id = "c1";
  for (const moat::policy::AclRule& rule : file.rules) {
    if (rule.scope == AclScope::kUser && clients.size() < 8) {
      ClientIdentity named;
      named.username = rule.user;
      named.client_id = "c2";
      clients.push_back(named);
    }
  }
  // Bounded work per input: at most 16 filters, each asked a few ways by each client.
  const size_t rules = file.rules.size() < 16 ? file.rules.size() : 16;
  for (size_t i = 0; i < rules; ++i) {
    const std::string& filter = file.rules[i].filter;
    for (const ClientIdentity& client : clients) {
      for (bool deeper : {false, true}) {
        const std::string topic = ConcreteTopic(filter, client, deeper);
        Compare(policy, reference, client, ReferencePolicy::Action::kPublish, topic);
        Compare(policy, reference, client, ReferencePolicy::Action::kReceive, topic);
        Compare(policy, reference, client, ReferencePolicy::Action::kSubscribe, topic);
      }
      Compare(policy, reference, client, ReferencePolicy::Action::kSubscribe, filter);
      Compare(policy, reference, client, ReferencePolicy::Action::kSubscribe, "$share/g/" + filter);
      if (filter.find('/') != std::string::npos) {
        Compare(policy, reference, client, ReferencePolicy::Action::kSubscribe,
                filter.substr(0, filter.rfind('/')) + "/#");
        Compare(policy, reference, client, ReferencePolicy::Action::kSubscribe,
                "+" + filter.substr(filter.find('/')));
      }
    }
  }
  for (const ClientIdentity& client : clients) {
    Compare(policy, reference, client, ReferencePolicy::Action::kSubscribe, "#");
    Compare(policy, reference, client, ReferencePolicy::Action::kReceive, "$SYS/x");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<AclFile> file = moat::policy::ParseAclFile(text, "fuzz");
  if (file.ok()) {
    CheckAccepted(*file);
  } else {
    moat::fuzz::CheckRefusal(text, "fuzz", file.status());
  }
  return 0;
}
