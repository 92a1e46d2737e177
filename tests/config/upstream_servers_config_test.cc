// LoadConfig() for upstream clusters (issue 19): upstream.servers as "host:port" strings
// or {address, tls} maps, upstream.address as a list of one, balance, unavailable_wait
// and on_unavailable, and every mistake reported as "FILE:LINE: message".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"
#include "tests/config/config_fixture.h"

namespace moat::config {
namespace {

using test::ConfigTest;
using test::kMinimal;
using ::testing::ElementsAre;

constexpr std::string_view kListener =
    "listeners:\n"
    "  - bind: \"127.0.0.1:1884\"\n"
    "upstream:\n";

std::string Upstream(std::string_view body) { return std::string(kListener) + std::string(body); }

TEST_F(ConfigTest, AddressIsAListOfOneServerWithTheDefaults) {
  const absl::StatusOr<Config> config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->upstream.servers.size(), 1u);
  EXPECT_EQ(config->upstream.servers[0].address.ToString(), "127.0.0.1:1883");
  EXPECT_EQ(config->upstream.servers[0].line, 4);
  EXPECT_EQ(config->upstream.balance, UpstreamBalance::kClientId);
  EXPECT_EQ(config->upstream.unavailable_wait, std::chrono::seconds(5));
  EXPECT_EQ(config->upstream.on_unavailable, UpstreamUnavailable::kClose);
}

TEST_F(ConfigTest, ServersTakeStringsAndMapsWithTheirOwnTls) {
  dir_.Write("shared-ca.crt", "x");
  dir_.Write("own-ca.crt", "x");
  const absl::StatusOr<Config> config =
      Load(Upstream("  servers:\n"
                    "    - \"192.0.2.5:8883\"\n"
                    "    - address: \"192.0.2.6:8883\"\n"
                    "      tls:\n"
                    "        ca: own-ca.crt\n"
                    "        server_name: node2.example\n"
                    "    - \"[2001:db8::7]:8883\"\n"
                    "  tls:\n"
                    "    ca: shared-ca.crt\n"
                    "  balance: least_connections\n"
                    "  unavailable_wait: 2s\n"
                    "  on_unavailable: connack\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& servers = config->upstream.servers;
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].address.ToString(), "192.0.2.5:8883");
  EXPECT_EQ(servers[1].address.ToString(), "192.0.2.6:8883");
  EXPECT_EQ(servers[2].address.ToString(), "[2001:db8::7]:8883");
  const std::string d = dir_.path() + "/";
  ASSERT_TRUE(servers[0].tls && servers[1].tls && servers[2].tls);
  EXPECT_EQ(servers[0].tls->ca, d + "shared-ca.crt");
  EXPECT_EQ(servers[1].tls->ca, d + "own-ca.crt");
  EXPECT_EQ(servers[1].tls->server_name, "node2.example");
  EXPECT_EQ(servers[2].tls->ca, d + "shared-ca.crt");
  EXPECT_EQ(config->upstream.address.ToString(), "192.0.2.5:8883");
  EXPECT_EQ(config->upstream.balance, UpstreamBalance::kLeastConnections);
  EXPECT_EQ(config->upstream.unavailable_wait, std::chrono::seconds(2));
  EXPECT_EQ(config->upstream.on_unavailable, UpstreamUnavailable::kConnack);
}

TEST_F(ConfigTest, ServersWithoutTlsArePlainTcp) {
  const absl::StatusOr<Config> config =
      Load(Upstream("  servers: [\"127.0.0.1:1883\", \"127.0.0.1:1884\"]\n"
                    "  balance: round_robin\n  unavailable_wait: 0s\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->upstream.servers.size(), 2u);
  EXPECT_FALSE(config->upstream.servers[1].tls.has_value());
  EXPECT_EQ(config->upstream.balance, UpstreamBalance::kRoundRobin);
  EXPECT_EQ(config->upstream.unavailable_wait, std::chrono::milliseconds(0));
}

TEST_F(ConfigTest, AddressAndServersTogetherAreRefused) {
  EXPECT_EQ(Problem(Upstream("  address: \"127.0.0.1:1883\"\n"
                             "  servers: [\"127.0.0.1:1884\"]\n")),
            "moat.yaml:5: 'upstream.address' (line 4) and 'upstream.servers' are both given: "
            "use one (address is a list of one server)");
}

TEST_F(ConfigTest, NeitherAddressNorServersIsRefused) {
  EXPECT_EQ(Problem(Upstream("  balance: client_id\n")),
            "moat.yaml:3: missing required key 'address' in 'upstream'");
}

TEST_F(ConfigTest, BadServerListsAreRefusedAtTheirLines) {
  EXPECT_EQ(Problem(Upstream("  servers: []\n")),
            "moat.yaml:4: 'upstream.servers' must list 1 to 64 servers, got 0");
  EXPECT_EQ(Problem(Upstream("  servers: \"127.0.0.1:1883\"\n")),
            "moat.yaml:4: 'upstream.servers' must be a list, got '127.0.0.1:1883'");
  EXPECT_THAT(
      Problems(Upstream("  servers:\n"
                        "    - \"127.0.0.1:1883\"\n"
                        "    - \"nonsense\"\n"
                        "    - \"127.0.0.1:1883\"\n"
                        "    - address: \"127.0.0.1:1885\"\n"
                        "      tsl: {}\n"
                        "    - tls: {ca: x}\n")),
      ElementsAre("moat.yaml:6: 'upstream.servers[1]' is not a valid address 'nonsense': "
                  "missing port (expected host:port)",
                  "moat.yaml:7: duplicate upstream server '127.0.0.1:1883' (also at line 5)",
                  "moat.yaml:9: unknown key 'tsl' in 'upstream.servers[3]' (did you mean 'tls'?)",
                  "moat.yaml:10: missing required key 'address' in 'upstream.servers[4]'"));
}

TEST_F(ConfigTest, BadBalanceAndOutageSettingsAreRefused) {
  EXPECT_THAT(Problems(std::string(kMinimal) + "  balance: random\n"
                                               "  unavailable_wait: forever\n"
                                               "  on_unavailable: reset\n"),
              ElementsAre("moat.yaml:5: 'upstream.balance' must be one of client_id, round_robin, "
                          "least_connections; got 'random'",
                          "moat.yaml:6: 'upstream.unavailable_wait' must be a duration such as "
                          "500ms, 10s or 2m, got 'forever'",
                          "moat.yaml:7: 'upstream.on_unavailable' must be one of close, connack; "
                          "got 'reset'"));
}

}  // namespace
}  // namespace moat::config
