// The config keys that keep moat closed and bounded by default: what each defaults to,
// what it refuses, and the warnings for what is valid but likely not meant.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/config/config_fixture.h"

namespace moat::config::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- policy ----------------------------------------------------------------------------

TEST_F(ConfigTest, WithoutAPolicyEverythingIsDeniedAndTheConfigSaysSo) {
  const auto config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->policy.allow_all);
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_THAT(config->warnings[0], HasSubstr("moat.yaml:1: warning: no policy: every PUBLISH, "
                                             "SUBSCRIBE and Will is denied"));
}

TEST_F(ConfigTest, AllowAllIsTheOneWayToGrantEverythingAndIsWarnedAbout) {
  const auto config = Load(std::string(kMinimal) + "policy:\n  allow_all: true\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->policy.allow_all);
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_THAT(config->warnings[0],
              HasSubstr("moat.yaml:6: warning: policy.allow_all: every client that logs in may "
                        "publish and subscribe to any topic"));
}

TEST_F(ConfigTest, APolicyFileNeedsNoWarning) {
  dir_.Write("acl", "topic read a/#\n");
  const auto config = Load(std::string(kMinimal) + "policy:\n  acl_file: acl\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->warnings, IsEmpty());
}

TEST_F(ConfigTest, AllowAllBesideAPolicyFileIsAContradiction) {
  dir_.Write("acl", "topic read a/#\n");
  EXPECT_EQ(Problem(std::string(kMinimal) + "policy:\n  acl_file: acl\n  allow_all: true\n"),
            "moat.yaml:7: 'policy.allow_all' grants everything: it cannot stand next to "
            "'policy.acl_file' or 'policy.file'");
}

TEST_F(ConfigTest, SubscriptionGrantDefaultsToAnyReadableAndNamesItsChoices) {
  dir_.Write("acl", "topic read a/#\n");
  const std::string base = std::string(kMinimal) + "policy:\n  acl_file: acl\n";
  const auto default_grant = Load(base);
  ASSERT_TRUE(default_grant.ok()) << default_grant.status();
  EXPECT_EQ(default_grant->policy.subscription_grant, policy::SubscriptionGrant::kAnyReadable);
  const auto strict = Load(base + "  subscription_grant: all_readable\n");
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(strict->policy.subscription_grant, policy::SubscriptionGrant::kAllReadable);
  EXPECT_THAT(Problem(base + "  subscription_grant: all\n"), HasSubstr("moat.yaml:7:"));
  EXPECT_THAT(Problem(base + "  subscription_grant: all\n"), HasSubstr("all_readable"));
}

// ---- PROXY protocol --------------------------------------------------------------------

TEST_F(ConfigTest, APROXYListenerMustNameWhoMaySendTheHeader) {
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    proxy_protocol: v1\n"
                    "upstream:\n  address: \"127.0.0.1:1883\"\n"),
            "moat.yaml:3: 'proxy_protocol' needs 'proxy_protocol_from': the addresses of the "
            "load balancers that may send the header (anyone else could claim any address)");
}

TEST_F(ConfigTest, ProxyProtocolFromNeedsNetworksAndAPROXYListener) {
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    proxy_protocol: v1\n"
                    "    proxy_protocol_from: [\"10.0.0.1/8\"]\n"
                    "upstream:\n  address: \"127.0.0.1:1883\"\n"),
            "moat.yaml:4: 'listeners[0].proxy_protocol_from[0]' has bits set past its prefix "
            "length");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n"
                    "    proxy_protocol_from: [\"10.0.0.0/8\"]\n"
                    "upstream:\n  address: \"127.0.0.1:1883\"\n"),
            "moat.yaml:3: 'listeners[0].proxy_protocol_from' applies only with a "
            "'proxy_protocol'");
}

// ---- limits ----------------------------------------------------------------------------

TEST_F(ConfigTest, EveryLimitHasABoundedDefault) {
  const auto config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  const Limits& limits = config->limits;
  EXPECT_EQ(limits.max_connect_packet_size, 64u * 1024);
  EXPECT_EQ(limits.max_preauth_memory, 64u * 1024 * 1024);
  EXPECT_EQ(limits.max_connections, 100'000u);
  EXPECT_EQ(limits.max_connections_per_address, 256u);
  EXPECT_EQ(limits.connection_rate_per_address, 50);
  EXPECT_EQ(limits.connection_burst_per_address, 256u);
  EXPECT_EQ(limits.max_keepalive, std::chrono::seconds(3600));
  EXPECT_EQ(limits.write_timeout, std::chrono::seconds(60));
  EXPECT_EQ(limits.tcp_keepalive, std::chrono::seconds(120));
  EXPECT_FALSE(config->auth.shared_client_ids);
  EXPECT_EQ(limits.session.max_subscriptions, 1000u);
  EXPECT_EQ(limits.session.max_topic_length, 1024u);
  EXPECT_EQ(limits.session.max_topic_levels, 128u);
  EXPECT_EQ(limits.session.max_filters_per_subscribe, 1000u);
  EXPECT_EQ(limits.session.max_inflight, 1000u);
  // No rate suits every fleet: unlimited unless configured (README, "Quotas").
  EXPECT_TRUE(limits.rates.messages.unlimited());
  EXPECT_TRUE(limits.rates.bytes.unlimited());
  EXPECT_EQ(limits.rates.on_exceeded, RateExceeded::kThrottle);
}

TEST_F(ConfigTest, ReadsTheClientRatesWithASecondsWorthAsTheDefaultBurst) {
  const auto config = Load(std::string(kMinimal) +
                           "limits:\n  messages_per_second: 0.5\n  bytes_per_second: 65536\n"
                           "  byte_burst: 1048576\n  on_rate_exceeded: disconnect\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const ClientRateLimits& rates = config->limits.rates;
  EXPECT_EQ(rates.messages.per_second, 0.5);
  EXPECT_EQ(rates.messages.burst, 1);  // never below one message
  EXPECT_EQ(rates.bytes.per_second, 65536);
  EXPECT_EQ(rates.bytes.burst, 1048576);
  EXPECT_EQ(rates.on_exceeded, RateExceeded::kDisconnect);
}

TEST_F(ConfigTest, ARateMustBeANumberAndABurstNeedsItsRate) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  messages_per_second: lots\n"),
            "moat.yaml:6: 'limits.messages_per_second' must be a number, got 'lots'");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  bytes_per_second: -5\n"),
            "moat.yaml:6: 'limits.bytes_per_second' must be between 0 and 1e+12, got -5");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  message_burst: 10\n"),
            "moat.yaml:6: 'limits.message_burst' needs a 'limits.messages_per_second' above 0");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  on_rate_exceeded: drop\n"),
            "moat.yaml:6: 'limits.on_rate_exceeded' must be one of throttle, disconnect; got "
            "'drop'");
}

TEST_F(ConfigTest, ReadsTheSessionQuotas) {
  const auto config = Load(std::string(kMinimal) +
                           "limits:\n  max_subscriptions: 5\n  max_topic_length: 64\n"
                           "  max_topic_levels: 4\n  max_filters_per_subscribe: 3\n"
                           "  max_inflight: 2\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const SessionQuotas& session = config->limits.session;
  EXPECT_EQ(session.max_subscriptions, 5u);
  EXPECT_EQ(session.max_topic_length, 64u);
  EXPECT_EQ(session.max_topic_levels, 4u);
  EXPECT_EQ(session.max_filters_per_subscribe, 3u);
  EXPECT_EQ(session.max_inflight, 2u);
}

TEST_F(ConfigTest, SessionQuotasStayWithinWhatMqttCanCarry) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_inflight: 65536\n"),
            "moat.yaml:6: 'limits.max_inflight' must be between 1 and 65535, got 65536");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_topic_length: 0\n"),
            "moat.yaml:6: 'limits.max_topic_length' must be between 1 and 65535, got 0");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_subscription: 5\n"),
            "moat.yaml:6: unknown key 'max_subscription' in 'limits' (did you mean "
            "'max_subscriptions'?)");
}

TEST_F(ConfigTest, KeepAliveCapsStayWithinWhatMqttCanSay) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_keepalive: 19h\n"),
            "moat.yaml:6: 'limits.max_keepalive' is at most 65535s, the largest keep-alive "
            "MQTT has");
}

TEST_F(ConfigTest, SharedClientIdsAreWarnedAbout) {
  const auto config = Load(std::string(kMinimal) +
                           "auth:\n  allow_anonymous: true\n  shared_client_ids: true\n"
                           "policy:\n  allow_all: true\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->warnings,
              ::testing::Contains(HasSubstr("moat.yaml:7: warning: auth.shared_client_ids")));
}

}  // namespace
}  // namespace moat::config::test
