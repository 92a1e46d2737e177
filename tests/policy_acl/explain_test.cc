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
      "     cert_identities: [device-1], max_qos: 1}\n",
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

Result Explain(const ExplainRequest& request) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = RunPolicyExplain(*Policy(), request, out, err);
  return {code, out.str(), err.str()};
}

ExplainRequest Request(std::string user, ExplainAction action, std::string topic) {
  ExplainRequest request;
  request.client.username = std::move(user);
  request.action = action;
  request.topic = std::move(topic);
  return request;
}

TEST(PolicyExplain, AllowPrintsTheRuleAndReturnsZero) {
  const Result r = Explain(Request("alice", ExplainAction::kPublish, "home/kitchen"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "allow /etc/moat/acl:2\n");
  EXPECT_EQ(r.err, "");
}

TEST(PolicyExplain, DenyByRulePrintsTheRuleAndReturnsThree) {
  const Result r = Explain(Request("alice", ExplainAction::kSubscribe, "home/#"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "deny /etc/moat/acl:3 (deny_rule)\n");
}

TEST(PolicyExplain, DefaultDenySaysNothingGrantsIt) {
  const Result r = Explain(Request("bob", ExplainAction::kPublish, "home/kitchen"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "deny (no_rule: nothing grants it)\n");
}

TEST(PolicyExplain, UsesClientIdCertificateAndQos) {
  ExplainRequest request = Request("x", ExplainAction::kPublish, "dev/k7");
  request.client.client_id = "k7";
  EXPECT_EQ(Explain(request).out, "deny (no_rule: nothing grants it)\n");
  request.client.cert_identity = "device-1";
  EXPECT_EQ(Explain(request).out, "allow dev-cn\n");
  request.qos = 2;
  const Result r = Explain(request);
  EXPECT_EQ(r.out, "deny dev-cn (qos_limit)\n");
  EXPECT_EQ(r.code, 3);
}

TEST(PolicyExplain, InvalidTopicIsBadInput) {
  Result r = Explain(Request("alice", ExplainAction::kPublish, "home/+"));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "moat policy explain: 'home/+' is not a topic name one can publish to (empty, or "
            "holding '+', '#' or NUL)\n");
  r = Explain(Request("alice", ExplainAction::kSubscribe, "home/#/x"));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "moat policy explain: 'home/#/x' is not a valid topic filter: '#' must be the "
            "last level\n");
}

TEST(PolicyExplain, ParsesTheActionWord) {
  EXPECT_EQ(ParseExplainAction("publish"), ExplainAction::kPublish);
  EXPECT_EQ(ParseExplainAction("subscribe"), ExplainAction::kSubscribe);
  EXPECT_EQ(ParseExplainAction("pub"), std::nullopt);
}

}  // namespace
}  // namespace moat::policy
