// The native policy's `limits` entries: who they select (the same keys as rules), the
// strictest matching rate wins key by key, file lines on every malformed entry, and
// audit mode leaves rates in force.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"
#include "tests/policy_acl/yaml_policy_fixture.h"

namespace moat::policy {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kPolicy = R"(groups:
  gateways: [gw1, gw2]
rules:
  - id: all
    effect: allow
    actions: [publish]
    topics: ["#"]
    everyone: true
limits:
  - id: sensors
    client_ids: ["sensor-*"]
    messages_per_second: 10
    message_burst: 20
  - id: gateways
    groups: [gateways]
    messages_per_second: 5000
    bytes_per_second: 65536
  - id: slow-sensor-bytes
    client_ids: ["sensor-7*"]
    bytes_per_second: 1000
  - id: lab
    everyone: true
    addresses: ["203.0.113.0/24"]
    messages_per_second: 0.5
)";

using test::Build;
using test::Errors;

ClientIdentity Client(std::string user, std::string client_id, std::string address = "192.0.2.1") {
  ClientIdentity client;
  client.username = std::move(user);
  client.client_id = std::move(client_id);
  client.address = std::move(address);
  client.listener = "public";
  return client;
}

// "messages/bytes" as "rate@rule", "-" for unset.
std::string Show(const RateOverrides& rates) {
  auto one = [](const std::optional<SourcedRate>& rate) {
    if (!rate) return std::string("-");
    return absl::StrCat(rate->rate.per_second, "/", rate->rate.burst, "@", std::string(rate->rule));
  };
  return one(rates.messages) + " " + one(rates.bytes);
}

TEST(PolicyRateLimits, AnEntrySelectsLikeARuleAndTheBurstDefaultsToASecondsWorth) {
  const auto policy = Build(kPolicy);
  EXPECT_EQ(Show(policy->RatesFor(Client("", "sensor-1"))), "10/20@sensors -");
  EXPECT_EQ(Show(policy->RatesFor(Client("gw2", "any"))),
            "5000/5000@gateways 65536/65536@gateways");
  EXPECT_EQ(Show(policy->RatesFor(Client("alice", "dashboard"))), "- -");
}

TEST(PolicyRateLimits, TheStrictestMatchingEntryWinsKeyByKey) {
  const auto policy = Build(kPolicy);
  // sensors sets messages, slow-sensor-bytes bytes: each key from its own entry.
  EXPECT_EQ(Show(policy->RatesFor(Client("", "sensor-77"))),
            "10/20@sensors 1000/1000@slow-sensor-bytes");
  // sensors (10/s) and lab (0.5/s) both select it: the lower rate wins.
  EXPECT_EQ(Show(policy->RatesFor(Client("", "sensor-1", "203.0.113.3"))), "0.5/1@lab -");
  // A gateway in the lab: lab's 0.5/s beats gateways' 5000/s; bytes stay the gateways'.
  EXPECT_EQ(Show(policy->RatesFor(Client("gw1", "x", "203.0.113.9"))),
            "0.5/1@lab 65536/65536@gateways");
}

TEST(PolicyRateLimits, ZeroIsUnlimitedAndLosesToAnyRate) {
  const auto policy = Build(R"(rules:
  - {id: r, effect: allow, actions: [publish], topics: ["#"], everyone: true}
limits:
  - {id: free, users: [bulk], messages_per_second: 0}
  - {id: capped, everyone: true, messages_per_second: 100}
)");
  EXPECT_EQ(Show(policy->RatesFor(Client("bulk", "c"))), "100/100@capped -");
}

TEST(PolicyRateLimits, AuditModeLeavesRatesInForce) {
  const auto audit = MakeAuditModeAuthorizer(Build(kPolicy));
  EXPECT_EQ(Show(audit->RatesFor(Client("", "sensor-1"))), "10/20@sensors -");
}

TEST(PolicyRateLimits, EntriesNameTheirLineForExplain) {
  const auto policy = Build(kPolicy);
  EXPECT_EQ(policy->RuleLocation("gateways"), "policy.yaml:14");
}

TEST(PolicyRateLimitsErrors, EveryMalformedEntryIsReportedWithItsLine) {
  const std::string errors = Errors(R"(rules:
  - {id: r, effect: allow, actions: [publish], topics: ["#"], everyone: true}
limits:
  - id: r
    everyone: true
    messages_per_second: 10
  - id: no-rate
    everyone: true
  - id: lonely-burst
    users: [a]
    message_burst: 5
    bytes_per_second: 10
  - id: bad
    everyone: true
    messages_per_second: fast
    bytes_per_second: -1
  - id: nobody
    messages_per_second: 1
  - id: typo
    everyone: true
    messages_per_secnd: 1
  - id: zero-burst
    everyone: true
    bytes_per_second: 10
    byte_burst: 0
)");
  EXPECT_THAT(errors, HasSubstr("policy.yaml:4: duplicate rule id 'r' (first at line 2)"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:7: limits entry 'no-rate' sets no rate"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:11: 'limits[2].message_burst' needs "
                                "'messages_per_second' in the same entry"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:15:"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:16:"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:17: limits entry 'nobody' applies to nobody"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:21:"));
  EXPECT_THAT(errors, HasSubstr("did you mean 'messages_per_second'"));
  EXPECT_THAT(errors, HasSubstr("policy.yaml:25: 'limits[6].byte_burst' must be at least 1"));
}

TEST(PolicyRateLimitsErrors, LimitsMustBeAList) {
  EXPECT_THAT(Errors(R"(rules:
  - {id: r, effect: allow, actions: [publish], topics: ["#"], everyone: true}
limits:
  sensors: 10
)"),
              HasSubstr("policy.yaml:3: 'limits' must be a list of limits entries, got a map"));
}

}  // namespace
}  // namespace moat::policy
