// A native rule's max_payload: read and checked with its line, carried by every decision
// that grants a PUBLISH, and named by `policy explain`.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "policy/acl/explain.h"
#include "policy/acl/yaml_policy.h"
#include "tests/policy_acl/yaml_policy_fixture.h"

namespace moat::policy {
namespace {

using test::RuleProblem;

constexpr std::string_view kSensors =
    "rules:\n"
    "  - {id: small, effect: allow, actions: [publish], topics: ['s/#'], everyone: true, "
    "max_payload: 200}\n"
    "  - {id: bigger, effect: allow, actions: [publish], topics: ['s/big/#'], users: [bulk], "
    "max_payload: 4096}\n"
    "  - {id: any, effect: allow, actions: [publish], topics: ['s/any/#'], users: [bulk]}\n"
    "  - {id: trial, effect: allow, actions: [publish], topics: ['s/trial'], everyone: true, "
    "max_payload: 10, mode: audit}\n";

std::shared_ptr<const AclPolicy> Load(std::string_view yaml, RuleLabels& labels) {
  AclPolicy::Builder builder;
  absl::StatusOr<YamlPolicy> policy = ParseYamlPolicy(yaml, "policy.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  if (policy.ok()) AddYamlPolicy(*policy, builder, labels);
  return std::move(builder).Build(1);
}

ClientIdentity User(std::string name) {
  ClientIdentity client;
  client.username = std::move(name);
  client.client_id = "c";
  return client;
}

TEST(MaxPayload, AGrantCarriesItsRulesLimitAndTheRuleThatSetsIt) {
  RuleLabels labels;
  const auto policy = Load(kSensors, labels);
  const Decision small = policy->MayPublish(User("alice"), "s/temp", 1, false);
  ASSERT_TRUE(small.allowed());
  EXPECT_EQ(small.max_payload, 200u);
  EXPECT_EQ(small.payload_rule, "small");
  EXPECT_NE(small.payload_label, RuleLabels::kDefault);
  EXPECT_FALSE(small.payload_audit);
  // Delivery and SUBSCRIBE know of no payload.
  EXPECT_EQ(policy->MayReceive(User("alice"), "s/temp").max_payload, kNoPayloadLimit);
}

TEST(MaxPayload, TheMostGenerousGrantDecides) {
  RuleLabels labels;
  const auto policy = Load(kSensors, labels);
  const Decision bigger = policy->MayPublish(User("bulk"), "s/big/x", 0, false);
  EXPECT_EQ(bigger.max_payload, 4096u);
  EXPECT_EQ(bigger.payload_rule, "bigger");
  // A rule without a limit grants any size.
  EXPECT_EQ(policy->MayPublish(User("bulk"), "s/any/x", 0, false).max_payload, kNoPayloadLimit);
  // Someone the bigger rule is not for keeps the small limit.
  EXPECT_EQ(policy->MayPublish(User("alice"), "s/big/x", 0, false).max_payload, 200u);
}

TEST(MaxPayload, AnAuditModeLimitReportsInsteadOfRefusing) {
  RuleLabels labels;
  const auto policy = Load(kSensors, labels);
  const Decision trial = policy->MayPublish(User("alice"), "s/trial", 0, false);
  EXPECT_EQ(trial.max_payload, 200u);  // "small" grants it too, and more
  EXPECT_TRUE(trial.payload_audit);
  EXPECT_EQ(trial.payload_rule, "trial");
}

TEST(MaxPayload, PolicyModeAuditReportsALargerPayloadInsteadOfRefusingIt) {
  RuleLabels labels;
  const auto audited = MakeAuditModeAuthorizer(Load(kSensors, labels));
  const Decision decision = audited->MayPublish(User("alice"), "s/temp", 0, false);
  EXPECT_EQ(decision.max_payload, 200u);
  EXPECT_TRUE(decision.payload_audit);
}

TEST(MaxPayload, ExplainShowsTheLimitOfAPublish) {
  RuleLabels labels;
  const auto policy = Load(kSensors, labels);
  ExplainRequest request;
  request.client = User("bulk");
  request.topic = "s/big/x";
  std::ostringstream out, err;
  EXPECT_EQ(RunPolicyExplain(*policy, request, out, err), kExplainAllow);
  // The lowest-numbered grant names the decision; the limit names its own rule.
  EXPECT_EQ(out.str(),
            "allow rule small at policy.yaml:2 (max_payload 4096 bytes: rule bigger at "
            "policy.yaml:3)\n");
  request.client = User("alice");
  out.str("");
  EXPECT_EQ(RunPolicyExplain(*policy, request, out, err), kExplainAllow);
  EXPECT_EQ(out.str(), "allow rule small at policy.yaml:2 (max_payload 200 bytes)\n");
}

TEST(MaxPayloadErrors, IsANumberOfBytesAMqttPacketCanCarry) {
  EXPECT_EQ(RuleProblem("    max_payload: 0\n"), "");
  EXPECT_EQ(RuleProblem("    max_payload: 268435455\n"), "");
  EXPECT_EQ(RuleProblem("    max_payload: 268435456\n"),
            "policy.yaml:7: 'rules[0].max_payload' must be a number of bytes from 0 to "
            "268435455, got '268435456'");
  EXPECT_EQ(RuleProblem("    max_payload: -1\n"),
            "policy.yaml:7: 'rules[0].max_payload' must be a number of bytes from 0 to "
            "268435455, got '-1'");
  EXPECT_EQ(RuleProblem("    max_payload: 4k\n"),
            "policy.yaml:7: 'rules[0].max_payload' must be a number of bytes from 0 to "
            "268435455, got '4k'");
}

TEST(MaxPayloadErrors, OnlyOnAnAllowRuleThatGrantsPublish) {
  EXPECT_EQ(RuleProblem("    max_payload: 10\n", "[publish]", "deny"),
            "policy.yaml:7: 'rules[0].max_payload' is a limit on what an allow rule grants; rule "
            "'r1' is a deny rule");
  EXPECT_EQ(RuleProblem("    max_payload: 10\n", "[subscribe]"),
            "policy.yaml:7: 'rules[0].max_payload' limits what a rule lets publish; rule 'r1' "
            "grants no publish");
}

}  // namespace
}  // namespace moat::policy
