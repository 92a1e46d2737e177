// `moat policy test`: reading the cases (every problem with its line) and judging them
// against a policy (what a failure prints, and the exit code).
#include "policy/acl/policy_cases.h"

#include <gtest/gtest.h>

#include <sstream>

#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"

namespace moat::policy {
namespace {

constexpr std::string_view kPolicy =
    "groups:\n"
    "  operators: [alice, bob]\n"
    "  night-shift: [bob]\n"
    "rules:\n"
    "  - {id: ops, effect: allow, actions: [publish, subscribe], topics: ['plant/#'],\n"
    "     groups: [operators]}\n"
    "  - {id: no-safety, effect: deny, actions: [publish, subscribe],\n"
    "     topics: ['plant/safety/#'], everyone: true}\n"
    "  - {id: rollout, effect: deny, actions: [publish], topics: ['plant/new'],\n"
    "     everyone: true, mode: audit}\n";

struct Judged {
  int code;
  std::string out;
};

Judged Judge(std::string_view cases_text) {
  absl::StatusOr<YamlPolicy> yaml = ParseYamlPolicy(kPolicy, "policy.yaml");
  EXPECT_TRUE(yaml.ok()) << yaml.status();
  AclPolicy::Builder builder;
  absl::StatusOr<AclFile> acl = ParseAclFile("user carol\ntopic read plant/#\n", "acl");
  EXPECT_TRUE(acl.ok());
  AddAclFile(*acl, builder);
  AddYamlPolicy(*yaml, builder);
  const std::shared_ptr<const AclPolicy> policy = std::move(builder).Build(1);
  absl::StatusOr<std::vector<PolicyCase>> cases = ParsePolicyCases(cases_text, "cases.yaml");
  EXPECT_TRUE(cases.ok()) << cases.status();
  if (!cases.ok()) return {-1, ""};
  std::ostringstream out;
  const int code = RunPolicyCases(*policy, *cases, yaml->groups, "cases.yaml", out);
  return {code, out.str()};
}

TEST(PolicyCases, CasesThatHoldExitZero) {
  const Judged run = Judge(
      "- {user: alice, action: publish, topic: plant/line1, expect: allow, rule: ops}\n"
      "- {user: alice, action: subscribe, topic: 'plant/#', qos: 1, expect: allow}\n"
      "- {user: alice, action: publish, topic: plant/safety/valve, expect: deny,\n"
      "   rule: no-safety}\n"
      "- {user: carol, action: subscribe, topic: 'plant/+/x', expect: allow, rule: 'acl:2'}\n"
      "- {user: carol, action: publish, topic: plant/x, expect: deny}\n"
      "- {action: publish, topic: plant/x, expect: deny}\n");
  EXPECT_EQ(run.code, kCasesHold);
  EXPECT_EQ(run.out, "6 cases, 0 failed\n");
}

TEST(PolicyCases, AWrongExpectationNamesTheCaseLineAndTheDecidingRule) {
  const Judged run = Judge(
      "- user: alice\n"
      "  action: publish\n"
      "  topic: plant/line1\n"
      "  expect: allow\n"
      "- user: alice\n"
      "  action: publish\n"
      "  topic: plant/safety/valve\n"
      "  expect: allow\n"
      "- {user: dave, action: subscribe, topic: 'plant/#', expect: allow}\n");
  EXPECT_EQ(run.code, kCasesFail);
  EXPECT_EQ(run.out,
            "cases.yaml:5: publish 'plant/safety/valve' as user alice: expected allow, got deny "
            "by rule no-safety at policy.yaml:7 (deny_rule)\n"
            "cases.yaml:9: subscribe 'plant/#' as user dave: expected allow, got deny by no rule "
            "(nothing grants it)\n"
            "3 cases, 2 failed\n");
}

TEST(PolicyCases, ARightVerdictByAnotherRuleFailsWhenTheCaseNamesTheRule) {
  const Judged run =
      Judge("- {user: carol, action: subscribe, topic: 'plant/x', expect: allow, rule: ops}\n");
  EXPECT_EQ(run.code, kCasesFail);
  EXPECT_EQ(run.out,
            "cases.yaml:1: subscribe 'plant/x' as user carol: allowed as expected, but by acl:2, "
            "not 'ops'\n1 case, 1 failed\n");
}

TEST(PolicyCases, AnAuditModeRuleCountsAsTheDenyItWouldBe) {
  const Judged run =
      Judge("- {user: alice, action: publish, topic: plant/new, expect: deny, rule: rollout}\n");
  EXPECT_EQ(run.code, kCasesHold) << run.out;
}

TEST(PolicyCases, GroupsPickAMemberOrCheckTheUser) {
  const Judged holds = Judge(
      "- {groups: [operators, night-shift], action: publish, topic: plant/a, expect: allow}\n"
      "- {user: bob, groups: [night-shift], action: publish, topic: plant/a, expect: allow}\n");
  EXPECT_EQ(holds.code, kCasesHold) << holds.out;
  const Judged fails = Judge(
      "- {user: alice, groups: [night-shift], action: publish, topic: plant/a, expect: allow}\n"
      "- {groups: [day-shift], action: publish, topic: plant/a, expect: allow}\n");
  EXPECT_EQ(fails.code, kCasesFail);
  EXPECT_EQ(fails.out,
            "cases.yaml:1: user 'alice' is not in every group it names\n"
            "cases.yaml:2: the policy has no group 'day-shift'\n"
            "2 cases, 2 failed\n");
}

TEST(PolicyCases, EveryProblemIsReportedWithItsLine) {
  const absl::StatusOr<std::vector<PolicyCase>> cases = ParsePolicyCases(
      "- {user: a, action: read, topic: x, expect: allow}\n"
      "- {user: a, action: publish, topic: 'x/#', expect: allow}\n"
      "- {user: a, action: subscribe, topic: 'x/#/y', expect: maybe, qos: 3}\n"
      "- {user: a, action: subscribe, topic: x, expect: deny, retain: true, colour: red}\n"
      "- {user: a, action: publish, expect: deny, address: not-an-ip}\n",
      "cases.yaml");
  ASSERT_FALSE(cases.ok());
  const std::string message(cases.status().message());
  EXPECT_NE(message.find("cases.yaml:1: 'cases[0].action' must be publish or subscribe"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:2: 'cases[1].topic' must be a topic name"), std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:3: 'cases[2].topic' must be a valid topic filter"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:3: 'cases[2].expect' must be allow or deny"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:3: 'cases[2].qos' must be 0, 1 or 2"), std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:4: 'cases[3].retain' applies to publish only"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:4: unknown key 'colour'"), std::string::npos) << message;
  EXPECT_NE(message.find("cases.yaml:5: missing required key 'topic'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("cases.yaml:5: 'cases[4].address' must be an IPv4 or IPv6 address"),
            std::string::npos)
      << message;
}

TEST(PolicyCases, AnEmptyFileIsAProblemNotAPass) {
  for (const std::string_view text : {"", "[]\n", "{user: a}\n"}) {
    const absl::StatusOr<std::vector<PolicyCase>> cases = ParsePolicyCases(text, "cases.yaml");
    ASSERT_FALSE(cases.ok()) << text;
    EXPECT_NE(std::string(cases.status().message()).find("must be a non-empty list"),
              std::string::npos)
        << cases.status();
  }
}

}  // namespace
}  // namespace moat::policy
