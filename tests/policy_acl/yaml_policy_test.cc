// The native YAML policy: each key's meaning, every problem class with its line, and the
// combination with an acl_file (in memory and through LoadPolicy()).
#include "policy/acl/yaml_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/load_policy.h"
#include "tests/policy_acl/yaml_policy_fixture.h"

namespace moat::policy {
namespace {

using ::testing::HasSubstr;

using test::Build;
using test::Errors;

ClientIdentity Client(std::string user, std::string client_id = "c1") {
  ClientIdentity c;
  c.username = std::move(user);
  c.client_id = std::move(client_id);
  c.address = "192.0.2.10";
  c.listener = "public";
  return c;
}

std::string Show(const Decision& d) {
  std::string out = d.allowed() ? "allow" : "deny";
  if (!d.rule.empty()) absl::StrAppend(&out, " ", std::string(d.rule));
  if (!d.allowed()) absl::StrAppend(&out, " ", std::string(DenyReasonName(d.reason)));
  return out;
}
std::string Pub(const Authorizer& p, const ClientIdentity& c, std::string_view t, uint8_t qos = 0,
                bool retain = false) {
  return Show(p.MayPublish(c, t, qos, retain));
}
std::string Sub(const Authorizer& p, const ClientIdentity& c, std::string_view f, uint8_t qos = 0) {
  return Show(p.MaySubscribe(c, f, qos));
}
std::string Recv(const Authorizer& p, const ClientIdentity& c, std::string_view t) {
  return Show(p.MayReceive(c, t));
}

// One rule with the given extra lines (already indented by 4).
std::string OneRule(std::string_view extra, std::string_view effect = "allow",
                    std::string_view actions = "[publish, subscribe]") {
  return absl::StrCat("rules:\n  - id: r1\n    effect: ", std::string(effect),
                      "\n    actions: ", std::string(actions), "\n    topics: [\"t/#\"]\n",
                      std::string(extra));
}

TEST(YamlPolicy, UsersAndRuleIdNameTheDecision) {
  const auto p = Build(OneRule("    users: [alice, \"bob smith\"]\n"));
  EXPECT_EQ(Pub(*p, Client("alice"), "t/x"), "allow r1");
  EXPECT_EQ(Recv(*p, Client("bob smith"), "t"), "allow r1");
  EXPECT_EQ(Pub(*p, Client("carol"), "t/x"), "deny no_rule");
  EXPECT_EQ(Pub(*p, Client(""), "t/x"), "deny no_rule");
}

TEST(YamlPolicy, GroupsExpandToTheirMembers) {
  const auto p =
      Build("groups:\n  ops: [alice, bob]\n  empty: []\n" + OneRule("    groups: [ops, empty]\n"));
  EXPECT_EQ(Pub(*p, Client("bob"), "t/x"), "allow r1");
  EXPECT_EQ(Pub(*p, Client("carol"), "t/x"), "deny no_rule");
}

// A bearer token's groups claim (ClientIdentity::groups) puts a client in a group the
// policy file does not list it in; its deny rules bind it as much as its grants.
TEST(YamlPolicy, TokenGroupsGetTheGroupsRules) {
  const auto p = Build(R"(groups:
  ops: [alice]
  contractors: []
rules:
  - id: ops-write
    effect: allow
    actions: [publish, subscribe]
    groups: [ops]
    topics: ["plant/#"]
  - id: no-contractor-secrets
    effect: deny
    actions: [publish, subscribe]
    groups: [contractors]
    topics: ["plant/secret/#"]
limits:
  - id: contractor-rate
    groups: [contractors]
    messages_per_second: 5
)");
  ClientIdentity dave = Client("dave");
  EXPECT_EQ(Pub(*p, dave, "plant/a"), "deny no_rule");
  dave.groups = {"unknown", "ops"};
  EXPECT_EQ(Pub(*p, dave, "plant/a"), "allow ops-write");
  EXPECT_EQ(Sub(*p, dave, "plant/secret/x"), "allow ops-write");
  EXPECT_FALSE(p->RatesFor(dave).messages.has_value());
  ClientIdentity erin = Client("erin");
  erin.groups = {"ops", "contractors"};
  EXPECT_EQ(Pub(*p, erin, "plant/a"), "allow ops-write");
  EXPECT_EQ(Pub(*p, erin, "plant/secret/x"), "deny no-contractor-secrets deny_rule");
  EXPECT_EQ(Recv(*p, erin, "plant/secret/x"), "deny no-contractor-secrets deny_rule");
  ASSERT_TRUE(p->RatesFor(erin).messages.has_value());
  EXPECT_EQ(p->RatesFor(erin).messages->rule, "contractor-rate");
  // Listed members keep their rights without a token.
  EXPECT_EQ(Pub(*p, Client("alice"), "plant/a"), "allow ops-write");
}

TEST(YamlPolicy, ClientIdGlobs) {
  const auto p = Build(OneRule("    client_ids: [\"sensor-*\", \"gw-??\"]\n"));
  EXPECT_EQ(Pub(*p, Client("anyone", "sensor-17"), "t/x"), "allow r1");
  EXPECT_EQ(Pub(*p, Client("", "gw-01"), "t/x"), "allow r1");
  EXPECT_EQ(Pub(*p, Client("anyone", "gw-001"), "t/x"), "deny no_rule");
  EXPECT_EQ(Pub(*p, Client("anyone", "other"), "t/x"), "deny no_rule");
}

TEST(YamlPolicy, CertIdentities) {
  const auto p = Build(OneRule("    cert_identities: [\"CN=device-1\"]\n"));
  ClientIdentity c = Client("x");
  EXPECT_EQ(Pub(*p, c, "t/x"), "deny no_rule");
  c.cert_identity = "CN=device-1";
  EXPECT_EQ(Pub(*p, c, "t/x"), "allow r1");
}

TEST(YamlPolicy, AddressesV4AndV6) {
  const auto p = Build(OneRule(
      "    everyone: true\n    addresses: [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"]\n"));
  ClientIdentity c = Client("x");
  for (const char* inside :
       {"10.1.2.3", "2001:db8:1::5", "192.0.2.7", "::ffff:10.9.9.9", "[2001:db8::1]"}) {
    c.address = inside;
    EXPECT_EQ(Pub(*p, c, "t/x"), "allow r1") << inside;
  }
  for (const char* outside : {"11.0.0.1", "2001:db9::1", "192.0.2.8", "", "garbage"}) {
    c.address = outside;
    EXPECT_EQ(Pub(*p, c, "t/x"), "deny no_rule") << outside;
  }
}

TEST(YamlPolicy, UnknownAddressNeverLiftsADeny) {
  const auto p = Build(
      "rules:\n"
      "  - {id: all, effect: allow, actions: [publish], topics: ['#'], everyone: true}\n"
      "  - {id: block, effect: deny, actions: [publish], topics: ['#'], everyone: true,\n"
      "     addresses: ['10.0.0.0/8']}\n");
  ClientIdentity c = Client("x");
  c.address = "10.0.0.1";
  EXPECT_EQ(Pub(*p, c, "a"), "deny block deny_rule");
  c.address = "not an address";
  EXPECT_EQ(Pub(*p, c, "a"), "deny block deny_rule");
  c.address = "11.0.0.1";
  EXPECT_EQ(Pub(*p, c, "a"), "allow all");
}

TEST(YamlPolicy, Listeners) {
  const auto p = Build(OneRule("    everyone: true\n    listeners: [internal]\n"));
  ClientIdentity c = Client("x");
  EXPECT_EQ(Pub(*p, c, "t/x"), "deny no_rule");
  c.listener = "internal";
  EXPECT_EQ(Pub(*p, c, "t/x"), "allow r1");
}

TEST(YamlPolicy, AnonymousAndEveryone) {
  const auto anon = Build(OneRule("    anonymous: true\n"));
  EXPECT_EQ(Pub(*anon, Client(""), "t/x"), "allow r1");
  EXPECT_EQ(Pub(*anon, Client("alice"), "t/x"), "deny no_rule");
  const auto all = Build(OneRule("    everyone: true\n"));
  EXPECT_EQ(Pub(*all, Client(""), "t/x"), "allow r1");
  EXPECT_EQ(Pub(*all, Client("alice"), "t/x"), "allow r1");
}

TEST(YamlPolicy, ConditionsCombineWithAnd) {
  const auto p = Build(OneRule("    users: [alice]\n    client_ids: [\"alice-*\"]\n"));
  EXPECT_EQ(Pub(*p, Client("alice", "alice-phone"), "t/x"), "allow r1");
  EXPECT_EQ(Pub(*p, Client("alice", "mallory"), "t/x"), "deny no_rule");
  EXPECT_EQ(Pub(*p, Client("bob", "alice-phone"), "t/x"), "deny no_rule");
}

TEST(YamlPolicy, MaxQos) {
  const auto p = Build(OneRule("    everyone: true\n    max_qos: 1\n"));
  EXPECT_EQ(Pub(*p, Client("a"), "t/x", 1), "allow r1");
  EXPECT_EQ(Pub(*p, Client("a"), "t/x", 2), "deny r1 qos_limit");
  EXPECT_EQ(Sub(*p, Client("a"), "t/#", 1), "allow r1");
  // A SUBSCRIBE is granted at the QoS the rule allows, as a broker grants a lower one.
  const Decision lowered = p->MaySubscribe(Client("a"), "t/#", 2);
  EXPECT_TRUE(lowered.allowed());
  EXPECT_EQ(lowered.max_qos, 1);
}

TEST(YamlPolicy, SubscriptionsThatCanDeliverSomethingAreGranted) {
  // Issue 13's HMI, written natively: the same answers as from its acl_file.
  const std::string rules =
      "rules:\n"
      "  - {id: plant, effect: allow, actions: [publish, subscribe], topics: ['plant/#'], "
      "users: [hmi]}\n"
      "  - {id: safety, effect: deny, actions: [publish, subscribe], topics: "
      "['plant/safety/#'], users: [hmi]}\n"
      "  - {id: speeds, effect: allow, actions: [subscribe], topics: ['lines/+/speed'], "
      "users: [hmi]}\n";
  const auto p = Build(rules);
  const ClientIdentity hmi = Client("hmi");
  const Decision plant = p->MaySubscribe(hmi, "plant/#", 1);
  EXPECT_TRUE(plant.allowed());
  EXPECT_TRUE(plant.partial);
  EXPECT_EQ(plant.rule, "plant");
  EXPECT_EQ(p->DenyInside(hmi, "plant/#").rule, "safety");
  EXPECT_EQ(Sub(*p, hmi, "lines/#"), "allow speeds");
  EXPECT_EQ(Sub(*p, hmi, "plant/safety/#"), "deny safety deny_rule");
  EXPECT_EQ(Sub(*p, hmi, "other/#"), "deny no_rule");
  EXPECT_EQ(Recv(*p, hmi, "plant/safety/valve"), "deny safety deny_rule");
  EXPECT_EQ(Recv(*p, hmi, "plant/line1/state"), "allow plant");

  AclPolicy::Builder whole;
  whole.SetSubscriptionGrant(SubscriptionGrant::kAllReadable);
  absl::StatusOr<YamlPolicy> parsed = ParseYamlPolicy(rules, "policy.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  AddYamlPolicy(*parsed, whole);
  const auto strict = std::move(whole).Build(1);
  EXPECT_EQ(Sub(*strict, hmi, "plant/#"), "deny safety deny_rule");
  EXPECT_EQ(Sub(*strict, hmi, "lines/#"), "deny no_rule");
  EXPECT_EQ(Sub(*strict, hmi, "plant/line1/#"), "allow plant");
}

TEST(YamlPolicy, RetainFalse) {
  const auto p = Build(OneRule("    everyone: true\n    retain: false\n"));
  EXPECT_EQ(Pub(*p, Client("a"), "t/x", 0, false), "allow r1");
  EXPECT_EQ(Pub(*p, Client("a"), "t/x", 0, true), "deny r1 retain_limit");
}

TEST(YamlPolicy, AnotherRuleMayGrantWhatALimitRefuses) {
  const auto p = Build(
      "rules:\n"
      "  - {id: low, effect: allow, actions: [publish], topics: ['#'], everyone: true, max_qos: "
      "0}\n"
      "  - {id: ops, effect: allow, actions: [publish], topics: ['t/#'], users: [ops]}\n");
  EXPECT_EQ(Pub(*p, Client("ops"), "t/x", 2), "allow ops");
  EXPECT_EQ(Pub(*p, Client("ops"), "u/x", 2), "deny low qos_limit");
}

TEST(YamlPolicy, SubscribeImpliesReceiveAndPublishDoesNot) {
  const auto sub = Build(OneRule("    everyone: true\n", "allow", "[subscribe]"));
  EXPECT_EQ(Recv(*sub, Client("a"), "t/x"), "allow r1");
  EXPECT_EQ(Sub(*sub, Client("a"), "t/#"), "allow r1");
  EXPECT_EQ(Pub(*sub, Client("a"), "t/x"), "deny no_rule");
  const auto pub = Build(OneRule("    everyone: true\n", "allow", "[publish]"));
  EXPECT_EQ(Recv(*pub, Client("a"), "t/x"), "deny no_rule");
  EXPECT_EQ(Pub(*pub, Client("a"), "t/x"), "allow r1");
}

TEST(YamlPolicy, DenyWinsRegardlessOfOrderAndOnlyForItsActions) {
  const auto p = Build(
      "rules:\n"
      "  - {id: no-cmd, effect: deny, actions: [publish], topics: ['t/cmd/#'], everyone: true}\n"
      "  - {id: all, effect: allow, actions: [publish, subscribe], topics: ['t/#'], everyone: "
      "true}\n");
  EXPECT_EQ(Pub(*p, Client("a"), "t/cmd/x"), "deny no-cmd deny_rule");
  EXPECT_EQ(Recv(*p, Client("a"), "t/cmd/x"), "allow all");
  EXPECT_EQ(Sub(*p, Client("a"), "t/#"), "allow all");
}

TEST(YamlPolicy, PlaceholdersInTopics) {
  const auto p = Build(
      "rules:\n"
      "  - {id: own, effect: allow, actions: [publish, subscribe], topics: ['u/%u/#', 'c/%c'],\n"
      "     everyone: true}\n");
  EXPECT_EQ(Pub(*p, Client("al", "k1"), "u/al/x"), "allow own");
  EXPECT_EQ(Pub(*p, Client("al", "k1"), "c/k1"), "allow own");
  EXPECT_EQ(Pub(*p, Client("al", "k1"), "u/bo/x"), "deny no_rule");
  EXPECT_EQ(Pub(*p, Client("+", "k1"), "u/x/x"), "deny no_rule");
}

TEST(YamlPolicy, ParsesFlowAndBlockStyleWithDescription) {
  const auto p = Build(
      "# comment\n"
      "rules:\n"
      "  - id: block-style\n"
      "    description: the long way\n"
      "    effect: allow\n"
      "    actions:\n"
      "      - subscribe\n"
      "    topics:\n"
      "      - \"news/#\"\n"
      "    everyone: true\n");
  EXPECT_EQ(Sub(*p, Client("x"), "news/#"), "allow block-style");
}

// ---- problems ---------------------------------------------------------------------------

TEST(YamlPolicyErrors, RequiredKeys) {
  EXPECT_EQ(Errors("rules:\n  - users: [a]\n"),
            "policy.yaml:2: missing required key 'id' in 'rules[0]'\n"
            "policy.yaml:2: missing required key 'effect' in 'rules[0]'\n"
            "policy.yaml:2: missing required key 'actions' in 'rules[0]'\n"
            "policy.yaml:2: missing required key 'topics' in 'rules[0]'");
  EXPECT_EQ(Errors("groups: {}\n"), "policy.yaml:1: missing required key 'rules'");
}

TEST(YamlPolicyErrors, UnknownKeysWithSuggestion) {
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    user: [a]\n")),
            "policy.yaml:7: unknown key 'user' in 'rules[0]' (did you mean 'users'?)");
  EXPECT_EQ(Errors("rule: []\nrules: []\n"),
            "policy.yaml:1: unknown key 'rule' at the top level (did you mean 'rules'?)");
}

TEST(YamlPolicyErrors, DuplicateKeysAndIds) {
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    everyone: true\n")),
            "policy.yaml:7: duplicate key 'everyone' in 'rules[0]' (first at line 6)");
  EXPECT_EQ(Errors("rules:\n"
                   "  - {id: x, effect: allow, actions: [publish], topics: [a], everyone: true}\n"
                   "  - {id: x, effect: deny, actions: [publish], topics: [a], everyone: true}\n"),
            "policy.yaml:3: duplicate rule id 'x' (first at line 2)");
}

TEST(YamlPolicyErrors, BadValues) {
  EXPECT_EQ(Errors(OneRule("    everyone: true\n", "permit")),
            "policy.yaml:3: 'rules[0].effect' must be allow or deny, got 'permit'");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n", "allow", "[publish, read]")),
            "policy.yaml:4: unknown action 'read' in 'rules[0].actions' (expected publish or "
            "subscribe)");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    max_qos: 3\n")),
            "policy.yaml:7: 'rules[0].max_qos' must be 0, 1 or 2, got '3'");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    retain: maybe\n")),
            "policy.yaml:7: 'rules[0].retain' must be true or false, got 'maybe'");
  EXPECT_EQ(Errors(OneRule("    anonymous: false\n")),
            "policy.yaml:6: 'rules[0].anonymous' can only be true (leave it out)");
  EXPECT_EQ(Errors(OneRule("    users: []\n    everyone: true\n")),
            "policy.yaml:6: 'rules[0].users' must be a non-empty list, got a list");
  EXPECT_EQ(Errors(OneRule("    users: alice\n")),
            "policy.yaml:6: 'rules[0].users' must be a non-empty list, got 'alice'");
  EXPECT_EQ(Errors(OneRule("    description: nobody\n")),
            "policy.yaml:2: rule 'r1' applies to nobody: give users, groups, client_ids, "
            "cert_identities, anonymous: true or everyone: true");
  // Ids and group names are the writer's text: shown without their control characters.
  EXPECT_EQ(Errors("rules:\n  - {id: \"r\\n1\", effect: allow, actions: [publish], topics: [a]}\n"),
            "policy.yaml:2: rule 'r\\x0A1' applies to nobody: give users, groups, client_ids, "
            "cert_identities, anonymous: true or everyone: true");
  EXPECT_EQ(Errors("groups: {\"a\\nb\": x}\nrules: []\n"),
            "policy.yaml:1: 'groups.a\\x0Ab' must be a non-empty list, got 'x'");
}

TEST(YamlPolicyErrors, ProblemsSortByLine) {
  EXPECT_THAT(Errors(OneRule("    everyone: true\n    users: [a]\n")),
              HasSubstr("'everyone' cannot be combined with users, groups or anonymous"));
}

TEST(YamlPolicyErrors, InvalidTopicsAddressesAndGroups) {
  EXPECT_EQ(Errors("rules:\n  - id: r\n    effect: allow\n    actions: [publish]\n"
                   "    topics:\n      - a/#/b\n      - ok\n    everyone: true\n"),
            "policy.yaml:6: invalid topic filter 'a/#/b' in 'rules[0].topics': '#' must be the "
            "last level");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    addresses: [\"10.0.0.1/8\", \"300.1.1.1\", "
                           "\"::1/129\", \"10.0.0.0/x\"]\n")),
            "policy.yaml:7: address '10.0.0.1/8' in 'rules[0].addresses' has bits set past its "
            "prefix length\n"
            "policy.yaml:7: address '300.1.1.1' in 'rules[0].addresses' is not an IPv4 or IPv6 "
            "address or network\n"
            "policy.yaml:7: address '::1/129' in 'rules[0].addresses' has a prefix length over "
            "128\n"
            "policy.yaml:7: address '10.0.0.0/x' in 'rules[0].addresses' has a prefix length "
            "that is not a number");
  EXPECT_EQ(Errors(OneRule("    groups: [nope]\n")),
            "policy.yaml:6: unknown group 'nope' in 'rules[0].groups' (not under the top-level "
            "'groups')");
}

TEST(YamlPolicyErrors, LimitsOnlyOnAllowRules) {
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    max_qos: 0\n", "deny")),
            "policy.yaml:7: 'rules[0].max_qos' is a limit on what an allow rule grants; rule "
            "'r1' is a deny rule");
}

TEST(YamlPolicyErrors, ModeIsEnforceOrAuditWithASuggestion) {
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    mode: audti\n", "deny")),
            "policy.yaml:7: 'rules[0].mode' must be enforce or audit, got 'audti' (did you mean "
            "'audit'?)");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    mode: dry-run\n", "deny")),
            "policy.yaml:7: 'rules[0].mode' must be enforce or audit, got 'dry-run'");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    mode: [audit]\n", "deny")),
            "policy.yaml:7: 'rules[0].mode' must be a non-empty string, got a list");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    mode: audit\n    mode: enforce\n")),
            "policy.yaml:8: duplicate key 'mode' in 'rules[0]' (first at line 7)");
  EXPECT_EQ(Errors(OneRule("    everyone: true\n    mdoe: audit\n")),
            "policy.yaml:7: unknown key 'mdoe' in 'rules[0]' (did you mean 'mode'?)");
}

TEST(YamlPolicy, ModeDefaultsToEnforce) {
  absl::StatusOr<YamlPolicy> policy = ParseYamlPolicy(
      "rules:\n"
      "  - {id: a, effect: deny, actions: [publish], topics: [a], everyone: true}\n"
      "  - {id: b, effect: deny, actions: [publish], topics: [b], everyone: true, mode: audit}\n"
      "  - {id: c, effect: deny, actions: [publish], topics: [c], everyone: true, mode: "
      "enforce}\n",
      "policy.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->rules.size(), 3u);
  EXPECT_FALSE(policy->rules[0].audit);
  EXPECT_TRUE(policy->rules[1].audit);
  EXPECT_FALSE(policy->rules[2].audit);
}

TEST(YamlPolicyErrors, IdsTheMetricLabelReservesAreRefused) {
  for (std::string_view id : {"default", "acl_file", "reserved_topic", "other"}) {
    EXPECT_EQ(Errors(absl::StrCat("rules:\n  - effect: deny\n    id: ", std::string(id),
                                  "\n    actions: [publish]\n    topics: [a]\n"
                                  "    everyone: true\n")),
              absl::StrCat("policy.yaml:3: rule id '", std::string(id),
                           "' is reserved: moat_denials_total{rule} uses it for denials no rule "
                           "id names"));
  }
}

TEST(YamlPolicyErrors, SyntaxAndShape) {
  // yaml-cpp finds the unclosed bracket past the end of the one line: line 1 it is.
  EXPECT_EQ(Errors("rules: [\n"),
            "policy.yaml:1: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(Errors("rules: []\n---\nrules: []\n"),
            "policy.yaml:3: only one YAML document is allowed");
  EXPECT_EQ(Errors(", rules: []\n"), "policy.yaml:1: YAML syntax error: unexpected ','");
  EXPECT_EQ(Errors("- a\n"), "policy.yaml:1: the policy must be a map with 'rules', got a list");
  EXPECT_EQ(Errors(""), "policy.yaml:1: the policy must be a map with 'rules', got nothing");
  EXPECT_EQ(Errors("rules: {}\n"), "policy.yaml:1: 'rules' must be a list of rules, got a map");
  EXPECT_EQ(Errors("rules: [x]\n"), "policy.yaml:1: 'rules[0]' must be a map, got 'x'");
}

// ---- both sources -----------------------------------------------------------------------

constexpr std::string_view kAcl =
    "user alice\n"
    "topic readwrite shared/#\n"
    "topic deny shared/acl-locked\n";
constexpr std::string_view kYaml =
    "rules:\n"
    "  - {id: yaml-grant, effect: allow, actions: [publish], topics: ['extra/#'], users: [alice]}\n"
    "  - {id: yaml-lock, effect: deny, actions: [publish], topics: ['shared/yaml-locked'],\n"
    "     everyone: true}\n"
    "  - {id: yaml-open, effect: allow, actions: [publish], topics: ['shared/acl-locked'],\n"
    "     everyone: true}\n";

TEST(CombinedPolicy, DenyInEitherWinsAllowInEitherGrants) {
  const auto p = Build(kYaml, kAcl);
  const ClientIdentity alice = Client("alice");
  EXPECT_EQ(Pub(*p, alice, "shared/x"), "allow acl:2");
  EXPECT_EQ(Pub(*p, alice, "extra/x"), "allow yaml-grant");
  EXPECT_EQ(Pub(*p, alice, "shared/yaml-locked"), "deny yaml-lock deny_rule");
  EXPECT_EQ(Pub(*p, alice, "shared/acl-locked"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, alice, "shared/acl-locked"), "deny acl:3 deny_rule");
  EXPECT_EQ(Pub(*p, Client("bob"), "shared/acl-locked"), "allow yaml-open");
}

class TempFiles : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, std::string_view text) {
    std::string path = absl::StrCat("/tmp/moat-acl-test-", getpid(), "-", name);
    std::ofstream(path) << text;
    paths_.push_back(path);
    return path;
  }
  ~TempFiles() override {
    for (const std::string& path : paths_) std::remove(path.c_str());
  }
  std::vector<std::string> paths_;
};

TEST_F(TempFiles, LoadPolicyCombinesBothFiles) {
  const std::string acl = Write("acl", kAcl);
  const std::string yaml = Write("policy.yaml", kYaml);
  absl::StatusOr<std::shared_ptr<const Authorizer>> p = LoadPolicy(acl, yaml, 7);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->version(), 7u);
  EXPECT_EQ(Pub(**p, Client("alice"), "shared/x"), absl::StrCat("allow ", acl, ":2"));
  EXPECT_EQ(Pub(**p, Client("alice"), "shared/yaml-locked"), "deny yaml-lock deny_rule");
}

TEST_F(TempFiles, LoadPolicyTakesEitherFileAlone) {
  const std::string acl = Write("acl", kAcl);
  const std::string yaml = Write("policy.yaml", kYaml);
  absl::StatusOr<std::shared_ptr<const Authorizer>> only_acl = LoadPolicy(acl, "", 1);
  ASSERT_TRUE(only_acl.ok());
  EXPECT_EQ(Pub(**only_acl, Client("alice"), "extra/x"), "deny no_rule");
  absl::StatusOr<std::shared_ptr<const Authorizer>> only_yaml = LoadPolicy("", yaml, 1);
  ASSERT_TRUE(only_yaml.ok());
  EXPECT_EQ(Pub(**only_yaml, Client("alice"), "extra/x"), "allow yaml-grant");
  EXPECT_FALSE(LoadPolicy("", "", 1).ok());
}

TEST_F(TempFiles, LoadPolicyAppliesTheSubscriptionGrant) {
  const std::string acl = Write("acl", "user u\ntopic read a/b\n");
  auto any = LoadPolicy(acl, "", 1);
  auto all = LoadPolicy(acl, "", 1, SubscriptionGrant::kAllReadable);
  ASSERT_TRUE(any.ok() && all.ok());
  EXPECT_EQ(Sub(**any, Client("u"), "a/+"), absl::StrCat("allow ", acl, ":2"));
  EXPECT_EQ(Sub(**all, Client("u"), "a/+"), "deny no_rule");
}

TEST_F(TempFiles, LoadPolicyReportsProblemsOfBothFiles) {
  const std::string acl = Write("acl", "user a\nbogus line\n");
  const std::string yaml = Write("policy.yaml", "rules:\n  - id: x\n");
  absl::StatusOr<std::shared_ptr<const Authorizer>> p = LoadPolicy(acl, yaml, 1);
  ASSERT_FALSE(p.ok());
  const std::string message(p.status().message());
  EXPECT_THAT(message, ::testing::StartsWith(absl::StrCat(acl, ":2: unknown keyword 'bogus'")));
  EXPECT_THAT(message, HasSubstr(absl::StrCat(yaml, ":2: missing required key 'effect'")));
  absl::StatusOr<std::shared_ptr<const Authorizer>> missing = LoadPolicy("/nonexistent/acl", "", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "/nonexistent/acl:1: cannot read acl file: No such file or directory");
}

}  // namespace
}  // namespace moat::policy
