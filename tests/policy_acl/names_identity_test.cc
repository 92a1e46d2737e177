// Authorizer::NamesIdentity: what a reload asks before it ends the session of a
// certificate identity, so a rule for everyone must never count as naming someone.
#include <gtest/gtest.h>

#include "policy/acl/acl_policy.h"
#include "policy/authorizer.h"
#include "tests/policy_acl/yaml_policy_fixture.h"

namespace moat::policy {
namespace {

using test::Build;

ClientIdentity Certificate(std::string name) {
  ClientIdentity client;
  client.username = name;  // a certificate identity is the client's user name too
  client.cert_identity = std::move(name);
  client.client_id = "device-1";
  return client;
}

constexpr std::string_view kNoRules = "rules: []\n";

TEST(NamesIdentity, AclFileUserBlockNamesItsUser) {
  const auto policy = Build(kNoRules,
                            "topic read public/#\n"
                            "pattern readwrite devices/%u/#\n"
                            "user sensor-1\n"
                            "topic write plant/sensor-1/#\n");
  EXPECT_TRUE(policy->NamesIdentity(Certificate("sensor-1")));
  // Only the pattern (everyone) and the anonymous lines apply to sensor-2.
  EXPECT_FALSE(policy->NamesIdentity(Certificate("sensor-2")));
}

TEST(NamesIdentity, AnonymousClientsAreNeverNamed) {
  const auto policy = Build(kNoRules, "topic read public/#\n");
  ClientIdentity anonymous;
  anonymous.client_id = "c";
  EXPECT_FALSE(policy->NamesIdentity(anonymous));
}

TEST(NamesIdentity, NativeRulesNameUsersGroupMembersAndCertIdentities) {
  const auto policy = Build(R"(groups:
  plant: [sensor-1]
  unused: [sensor-9]
rules:
  - id: plant
    effect: allow
    actions: [publish]
    topics: ["plant/#"]
    groups: [plant]
  - id: valve
    effect: deny
    actions: [publish]
    topics: ["valves/#"]
    users: [sensor-2]
  - id: gateway
    effect: allow
    actions: [subscribe]
    topics: ["gw/#"]
    cert_identities: [gateway-1]
  - id: everyone-reads
    effect: allow
    actions: [subscribe]
    topics: ["public/#"]
    everyone: true
  - id: by-client-id
    effect: allow
    actions: [subscribe]
    topics: ["sensors/#"]
    client_ids: ["device-*"]
)");
  EXPECT_TRUE(policy->NamesIdentity(Certificate("sensor-1")));   // a group's rule
  EXPECT_TRUE(policy->NamesIdentity(Certificate("sensor-2")));   // a deny names it too
  EXPECT_TRUE(policy->NamesIdentity(Certificate("gateway-1")));  // cert_identities
  // A group no rule uses grants nothing; rules for everyone or by client id name nobody.
  EXPECT_FALSE(policy->NamesIdentity(Certificate("sensor-9")));
  EXPECT_FALSE(policy->NamesIdentity(Certificate("sensor-3")));
}

TEST(NamesIdentity, FixedAndAuditModeAuthorizersNameNobody) {
  const ClientIdentity client = Certificate("sensor-1");
  EXPECT_FALSE(MakeAllowAllAuthorizer()->NamesIdentity(client));
  EXPECT_FALSE(MakeDenyAllAuthorizer()->NamesIdentity(client));
  // Audit mode refuses nothing, so it must not end a session either.
  const auto policy = Build(kNoRules, "user sensor-1\ntopic read a\n");
  ASSERT_TRUE(policy->NamesIdentity(client));
  EXPECT_FALSE(MakeAuditModeAuthorizer(policy)->NamesIdentity(client));
}

}  // namespace
}  // namespace moat::policy
