// RunPolicyExplain(): what `moat policy explain` prints and returns.
#include "policy/acl/explain.h"

#include <gtest/gtest.h>

#include <sstream>

#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"

namespace moat::policy {
namespace {

std::shared_ptr<const AclPolicy> Policy() {
  AclPolicy::Builder builder;
  absl::StatusOr<AclFile> acl =
      ParseAclFile("user alice\ntopic readwrite home/#\ntopic deny home/locked\n", "/etc/moat/acl");
  EXPECT_TRUE(acl.ok());
  AddAclFile(*acl, builder);
  absl::StatusOr<YamlPolicy> yaml = ParseYamlPolicy(
      "rules:\n  - {id: dev-cn, effect: allow, actions: [publish], topics: [dev/%c],\n"
      "     cert_identities: [device-1], max_qos: 1}\n"
      "  - {id: watch-garage, effect: deny, actions: [publish, subscribe],\n"
      "     topics: [home/garage/#], users: [alice], mode: audit}\n"
      "  - {id: slow-fan, effect: allow, actions: [publish], topics: [fan], everyone: true,\n"
      "     max_qos: 0, mode: audit}\n",
      "policy.yaml");
  EXPECT_TRUE(yaml.ok()) << yaml.status();
  AddYamlPolicy(*yaml, builder);
  return std::move(builder).Build(1);
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result Explain(const ExplainRequest& request, bool policy_mode_audit = false) {
  std::ostringstream out;
  std::ostringstream err;
  std::shared_ptr<const Authorizer> policy = Policy();
  if (policy_mode_audit) policy = MakeAuditModeAuthorizer(policy);
  const int code = RunPolicyExplain(*policy, request, out, err);
  return {code, out.str(), err.str()};
}

ExplainRequest Request(std::string user, Action action, std::string topic) {
  ExplainRequest request;
  request.client.username = std::move(user);
  request.action = action;
  request.topic = std::move(topic);
  return request;
}

TEST(PolicyExplain, AllowPrintsTheRuleAndReturnsZero) {
  const Result r = Explain(Request("alice", Action::kPublish, "home/kitchen"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "allow /etc/moat/acl:2\n");
  EXPECT_EQ(r.err, "");
}

TEST(PolicyExplain, DenyByRulePrintsTheRuleAndReturnsThree) {
  const Result r = Explain(Request("alice", Action::kSubscribe, "home/locked"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "deny /etc/moat/acl:3 (deny_rule)\n");
}

TEST(PolicyExplain, APartlyWithheldSubscriptionNamesWhatWithholdsIt) {
  Result r = Explain(Request("alice", Action::kSubscribe, "home/#"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "allow /etc/moat/acl:2 (partial: /etc/moat/acl:3 withholds what it denies at "
            "delivery)\n");
  r = Explain(Request("alice", Action::kSubscribe, "+/kitchen"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "allow /etc/moat/acl:2 (partial: topics it matches that nothing grants are "
            "withheld at delivery)\n");
  r = Explain(Request("alice", Action::kSubscribe, "home/kitchen/#"));
  EXPECT_EQ(r.out, "allow /etc/moat/acl:2\n");
}

TEST(PolicyExplain, DefaultDenySaysNothingGrantsIt) {
  const Result r = Explain(Request("bob", Action::kPublish, "home/kitchen"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "deny (no_rule: nothing grants it)\n");
}

TEST(PolicyExplain, UsesClientIdCertificateAndQos) {
  ExplainRequest request = Request("x", Action::kPublish, "dev/k7");
  request.client.client_id = "k7";
  EXPECT_EQ(Explain(request).out, "deny (no_rule: nothing grants it)\n");
  request.client.cert_identity = "device-1";
  EXPECT_EQ(Explain(request).out, "allow rule dev-cn at policy.yaml:2\n");
  request.qos = 2;
  const Result r = Explain(request);
  EXPECT_EQ(r.out, "deny rule dev-cn at policy.yaml:2 (qos_limit)\n");
  EXPECT_EQ(r.code, 3);
}

TEST(PolicyExplain, AuditRuleAllowsAndSaysWhatWouldHaveDenied) {
  Result r = Explain(Request("alice", Action::kPublish, "home/garage/door"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "allow (audit: would be denied by rule watch-garage at policy.yaml:4, deny_rule)\n");
  // Enforcing would grant home/# too (partly withheld), so the audit deny changes nothing.
  r = Explain(Request("alice", Action::kSubscribe, "home/#"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "allow /etc/moat/acl:2 (partial: /etc/moat/acl:3 withholds what it denies at "
            "delivery)\n");
  r = Explain(Request("alice", Action::kSubscribe, "home/garage/#"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "allow (audit: would be denied by rule watch-garage at policy.yaml:4, deny_rule)\n");
  ExplainRequest fan = Request("bob", Action::kPublish, "fan");
  fan.qos = 1;
  r = Explain(fan);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "allow (audit: would be denied by rule slow-fan at policy.yaml:6, qos_limit)\n");
}

TEST(PolicyExplain, PolicyModeAuditAllowsWhatItWouldDeny) {
  Result r = Explain(Request("bob", Action::kPublish, "home/kitchen"), true);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "allow (audit: would be denied, no_rule: nothing grants it)\n");
  r = Explain(Request("alice", Action::kSubscribe, "home/locked"), true);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "allow (audit: would be denied by /etc/moat/acl:3, deny_rule)\n");
  r = Explain(Request("alice", Action::kPublish, "home/x"), true);
  EXPECT_EQ(r.out, "allow /etc/moat/acl:2\n");
}

TEST(PolicyExplain, InvalidTopicIsBadInput) {
  Result r = Explain(Request("alice", Action::kPublish, "home/+"));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "moat policy explain: 'home/+' is not a topic name one can publish to (empty, or "
            "holding '+', '#' or NUL)\n");
  r = Explain(Request("alice", Action::kSubscribe, "home/#/x"));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "moat policy explain: 'home/#/x' is not a valid topic filter: '#' must be the "
            "last level\n");
}

TEST(PolicyExplain, ParsesTheActionWord) {
  EXPECT_EQ(ParseExplainAction("publish"), Action::kPublish);
  EXPECT_EQ(ParseExplainAction("subscribe"), Action::kSubscribe);
  EXPECT_EQ(ParseExplainAction("pub"), std::nullopt);
}

}  // namespace
}  // namespace moat::policy
