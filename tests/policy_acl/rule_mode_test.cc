// Per-rule `mode: audit` in the native policy, and the rule labels decisions carry: an
// audit-mode rule reports what it would refuse and refuses nothing, and never weakens an
// enforcing rule (the precedence in policy/acl/acl_policy.h, one test per step).
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"
#include "policy/rule_labels.h"
#include "tests/policy_acl/yaml_policy_fixture.h"

namespace moat::policy {
namespace {

class RuleMode : public ::testing::Test {
 protected:
  std::shared_ptr<const AclPolicy> Build(std::string_view yaml, std::string_view acl = {}) {
    return test::Build(yaml, acl, labels_);
  }

  RuleLabels labels_;  // this test's own, so numbers start afresh
};

ClientIdentity Client(std::string user, std::string client_id = "c1") {
  ClientIdentity c;
  c.username = std::move(user);
  c.client_id = std::move(client_id);
  c.address = "192.0.2.10";
  return c;
}

// "allow R", "deny R reason", or "audit R reason" (an allow that R would have denied).
std::string Show(const Decision& d) {
  std::string out = d.audit ? "audit" : d.allowed() ? "allow" : "deny";
  if (d.audit && !d.allowed()) out = "BROKEN: audit on a deny";
  if (!d.rule.empty()) absl::StrAppend(&out, " ", std::string(d.rule));
  if (!d.allowed() || d.audit) absl::StrAppend(&out, " ", std::string(DenyReasonName(d.reason)));
  return out;
}
std::string Pub(const Authorizer& p, std::string_view t, uint8_t qos = 0, bool retain = false,
                const ClientIdentity& c = Client("alice")) {
  return Show(p.MayPublish(c, t, qos, retain));
}
std::string Sub(const Authorizer& p, std::string_view f, uint8_t qos = 0,
                const ClientIdentity& c = Client("alice")) {
  return Show(p.MaySubscribe(c, f, qos));
}
std::string Recv(const Authorizer& p, std::string_view t,
                 const ClientIdentity& c = Client("alice")) {
  return Show(p.MayReceive(c, t));
}

constexpr char kAllowAll[] =
    "  - {id: all, effect: allow, actions: [publish, subscribe], topics: ['#'], everyone: true}\n";

TEST_F(RuleMode, AuditDenyLetsAGrantedRequestThroughAndNamesItself) {
  const auto p = Build(absl::StrCat(
      "rules:\n", kAllowAll,
      "  - {id: watch, effect: deny, actions: [publish, subscribe], topics: ['t/secret/#'],\n"
      "     everyone: true, mode: audit}\n"));
  EXPECT_EQ(Pub(*p, "t/secret/x"), "audit watch deny_rule");
  EXPECT_EQ(Pub(*p, "t/open"), "allow all");
  const Decision d = p->MayPublish(Client("alice"), "t/secret/x", 0, false);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.rule_label, labels_.Assign("watch"));
  EXPECT_GE(d.rule_label, RuleLabels::kFirstId);
}

TEST_F(RuleMode, EnforcingDenyWinsOverAnAuditDenyInEitherOrder) {
  const std::string first_audit = absl::StrCat(
      "rules:\n", kAllowAll,
      "  - {id: watch, effect: deny, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     mode: audit}\n"
      "  - {id: block, effect: deny, actions: [publish], topics: ['t/x'], everyone: true}\n");
  const std::string first_enforce = absl::StrCat(
      "rules:\n", kAllowAll,
      "  - {id: block, effect: deny, actions: [publish], topics: ['t/x'], everyone: true}\n"
      "  - {id: watch, effect: deny, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     mode: audit}\n");
  for (const std::string& yaml : {first_audit, first_enforce}) {
    const auto p = Build(yaml);
    EXPECT_EQ(Pub(*p, "t/x"), "deny block deny_rule");
    EXPECT_EQ(Pub(*p, "t/y"), "audit watch deny_rule");
    const Decision d = p->MayPublish(Client("alice"), "t/x", 0, false);
    EXPECT_EQ(d.rule_label, labels_.Assign("block"));
  }
}

TEST_F(RuleMode, AuditDenyNeverLiftsTheDefaultDeny) {
  const auto p = Build(
      "rules:\n"
      "  - {id: watch, effect: deny, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     mode: audit}\n");
  EXPECT_EQ(Pub(*p, "t/x"), "deny no_rule");
  EXPECT_EQ(p->MayPublish(Client("alice"), "t/x", 0, false).rule_label, RuleLabels::kDefault);
}

TEST_F(RuleMode, AuditLimitsBecomeAuditedAllows) {
  const auto p = Build(
      "rules:\n"
      "  - {id: slow, effect: allow, actions: [publish, subscribe], topics: ['t/#'],\n"
      "     everyone: true, max_qos: 0, retain: false, mode: audit}\n");
  EXPECT_EQ(Pub(*p, "t/x"), "allow slow");
  EXPECT_EQ(Pub(*p, "t/x", 1), "audit slow qos_limit");
  EXPECT_EQ(Pub(*p, "t/x", 0, true), "audit slow retain_limit");
  EXPECT_EQ(Sub(*p, "t/#", 2), "audit slow qos_limit");
  EXPECT_EQ(Pub(*p, "u/x", 1), "deny no_rule");
  EXPECT_EQ(p->MayPublish(Client("a"), "t/x", 1, false).rule_label, labels_.Assign("slow"));
}

TEST_F(RuleMode, AFullGrantNeedsNoAuditForAnotherRulesLimit) {
  const auto p = Build(
      "rules:\n"
      "  - {id: slow, effect: allow, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     max_qos: 0, mode: audit}\n"
      "  - {id: ops, effect: allow, actions: [publish], topics: ['t/ops/#'], users: [ops]}\n");
  EXPECT_EQ(Pub(*p, "t/ops/x", 2, false, Client("ops")), "allow ops");
  EXPECT_EQ(Pub(*p, "t/x", 2, false, Client("ops")), "audit slow qos_limit");
}

TEST_F(RuleMode, AnEnforcingLimitStillRefusesWhatNothingElseGrants) {
  const auto p = Build(
      "rules:\n"
      "  - {id: slow, effect: allow, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     max_qos: 0}\n"
      "  - {id: watch, effect: deny, actions: [publish], topics: ['t/x'], everyone: true,\n"
      "     mode: audit}\n");
  EXPECT_EQ(Pub(*p, "t/x", 0), "audit watch deny_rule");
  EXPECT_EQ(Pub(*p, "t/x", 1), "deny slow qos_limit");
  EXPECT_EQ(Pub(*p, "t/y", 1), "deny slow qos_limit");
}

TEST_F(RuleMode, AuditDenyNamesTheDecisionOverAnAuditLimit) {
  const auto p = Build(
      "rules:\n"
      "  - {id: slow, effect: allow, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     max_qos: 0, mode: audit}\n"
      "  - {id: watch, effect: deny, actions: [publish], topics: ['t/x'], everyone: true,\n"
      "     mode: audit}\n");
  EXPECT_EQ(Pub(*p, "t/x", 1), "audit watch deny_rule");
  EXPECT_EQ(Pub(*p, "t/y", 1), "audit slow qos_limit");
}

TEST_F(RuleMode, SubscribeWithOnlyAnAuditDenyInsideIsGrantedWithAudit) {
  const auto p = Build(
      absl::StrCat("rules:\n", kAllowAll,
                   "  - {id: watch, effect: deny, actions: [subscribe], topics: ['t/secret/#'],\n"
                   "     everyone: true, mode: audit}\n"
                   "  - {id: vault, effect: deny, actions: [subscribe], topics: ['v/secret'],\n"
                   "     everyone: true}\n"));
  // Reported when the enforcing policy would refuse the filter: all it could deliver is
  // what the audit-mode deny withholds.
  EXPECT_EQ(Sub(*p, "t/secret/#"), "audit watch deny_rule");
  EXPECT_EQ(Sub(*p, "t/secret/+/x"), "audit watch deny_rule");
  EXPECT_EQ(Sub(*p, "$share/g/t/secret/#"), "audit watch deny_rule");
  // Filters that deliver something either way are granted plainly.
  EXPECT_EQ(Sub(*p, "t/#"), "allow all");
  EXPECT_EQ(Sub(*p, "t/+/x"), "allow all");
  EXPECT_EQ(Sub(*p, "t/open/#"), "allow all");
  EXPECT_EQ(Sub(*p, "v/secret"), "deny vault deny_rule");  // an enforcing deny still refuses
}

TEST_F(RuleMode, DeliveryOfWhatAnAuditDenyCoversIsAudited) {
  const auto p = Build(
      absl::StrCat("rules:\n", kAllowAll,
                   "  - {id: watch, effect: deny, actions: [subscribe], topics: ['t/secret/#'],\n"
                   "     everyone: true, mode: audit}\n"));
  EXPECT_EQ(Recv(*p, "t/secret/x"), "audit watch deny_rule");
  EXPECT_EQ(Recv(*p, "t/open"), "allow all");
  EXPECT_EQ(Pub(*p, "t/secret/x"), "allow all");  // the rule is for reading only
}

TEST_F(RuleMode, AuditRulesKeepTheirConditionsAndPlaceholders) {
  const auto p = Build(absl::StrCat(
      "rules:\n", kAllowAll,
      "  - {id: phones, effect: deny, actions: [publish], topics: ['t/#'], everyone: true,\n"
      "     client_ids: ['phone-*'], mode: audit}\n"
      "  - {id: others, effect: deny, actions: [publish], topics: ['u/%u/#'], everyone: true,\n"
      "     mode: audit}\n"));
  EXPECT_EQ(Pub(*p, "t/x", 0, false, Client("alice", "phone-1")), "audit phones deny_rule");
  EXPECT_EQ(Pub(*p, "t/x", 0, false, Client("alice", "laptop")), "allow all");
  EXPECT_EQ(Pub(*p, "u/alice/x"), "audit others deny_rule");
  EXPECT_EQ(Pub(*p, "u/bob/x"), "allow all");
  // An identity that cannot be one level trips a deny template, in audit mode as audit.
  EXPECT_EQ(Pub(*p, "u/a/x", 0, false, Client("a/b")), "audit others deny_rule");
}

TEST_F(RuleMode, PolicyModeAuditKeepsAPerRuleAuditDecision) {
  const auto inner = Build(absl::StrCat(
      "rules:\n", kAllowAll,
      "  - {id: watch, effect: deny, actions: [publish], topics: ['t/x'], everyone: true,\n"
      "     mode: audit}\n"
      "  - {id: block, effect: deny, actions: [publish], topics: ['t/y'], everyone: true}\n"));
  const auto audit = MakeAuditModeAuthorizer(inner);
  EXPECT_EQ(Pub(*audit, "t/x"), "audit watch deny_rule");
  EXPECT_EQ(Pub(*audit, "t/y"), "audit block deny_rule");
  EXPECT_EQ(audit->MayPublish(Client("a"), "t/y", 0, false).rule_label, labels_.Assign("block"));
  EXPECT_EQ(audit->RuleLocation("block"), "policy.yaml:5");
}

TEST_F(RuleMode, LabelsGoToRulesThatCanRefuseAndAclLinesShareOne) {
  const auto p = Build(
      "rules:\n"
      "  - {id: grant, effect: allow, actions: [publish], topics: ['g/#'], everyone: true}\n"
      "  - {id: limit, effect: allow, actions: [publish], topics: ['l/#'], everyone: true,\n"
      "     retain: false}\n"
      "  - {id: block, effect: deny, actions: [publish], topics: ['g/x'], everyone: true}\n",
      "user alice\ntopic deny a/#\n");
  EXPECT_EQ(labels_.Names()[RuleLabels::kFirstId], "limit");
  EXPECT_EQ(labels_.Names()[RuleLabels::kFirstId + 1], "block");
  EXPECT_EQ(labels_.Names()[RuleLabels::kFirstId + 2], "");  // "grant" never refuses
  EXPECT_EQ(p->MayPublish(Client("alice"), "a/x", 0, false).rule_label, RuleLabels::kAclFile);
  EXPECT_EQ(p->MayPublish(Client("alice"), "l/x", 0, true).rule_label, RuleLabels::kFirstId);
  EXPECT_EQ(p->MayPublish(Client("alice"), "g/x", 0, false).rule_label, RuleLabels::kFirstId + 1);
  EXPECT_EQ(p->MayPublish(Client("alice"), "n/x", 0, false).rule_label, RuleLabels::kDefault);
  // A reload of the same ids keeps their numbers, so counters stay with their rule.
  const auto reloaded = Build(
      "rules:\n"
      "  - {id: new, effect: deny, actions: [publish], topics: ['n/#'], everyone: true}\n"
      "  - {id: block, effect: deny, actions: [publish], topics: ['g/x'], everyone: true}\n");
  EXPECT_EQ(reloaded->MayPublish(Client("a"), "g/x", 0, false).rule_label,
            RuleLabels::kFirstId + 1);
  EXPECT_EQ(reloaded->MayPublish(Client("a"), "n/x", 0, false).rule_label,
            RuleLabels::kFirstId + 2);
}

TEST_F(RuleMode, NativeRulesKnowWhereTheyAreWritten) {
  const auto p = Build(absl::StrCat("rules:\n", kAllowAll), "topic read x\n");
  EXPECT_EQ(p->RuleLocation("all"), "policy.yaml:2");
  EXPECT_EQ(p->RuleLocation("acl:1"), "");
  EXPECT_EQ(p->RuleLocation("nope"), "");
}

}  // namespace
}  // namespace moat::policy
