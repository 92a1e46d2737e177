// upstream.proxy_protocol and upstream.source_addresses: defaults, what each accepts, and
// every refusal with its line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/config/config_fixture.h"

namespace moat::config::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string WithUpstream(const std::string& address, const std::string& extra) {
  return absl::StrCat("listeners:\n  - bind: \"127.0.0.1:1884\"\nupstream:\n  address: \"", address,
                      "\"\n", extra);
}

TEST_F(ConfigTest, UpstreamSendsNoProxyHeaderAndLeavesTheSourceAddressToTheKernelByDefault) {
  const auto config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.proxy_protocol, UpstreamProxyProtocol::kNone);
  EXPECT_THAT(config->upstream.source_addresses, IsEmpty());
}

TEST_F(ConfigTest, UpstreamProxyProtocolVersions) {
  for (const auto& [text, expected] :
       {std::pair{"none", UpstreamProxyProtocol::kNone},
        std::pair{"v1", UpstreamProxyProtocol::kV1}, std::pair{"v2", UpstreamProxyProtocol::kV2}}) {
    const auto config =
        Load(WithUpstream("127.0.0.1:1883", absl::StrCat("  proxy_protocol: ", text, "\n")));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->upstream.proxy_protocol, expected) << text;
  }
  // "any" is for listeners, which may accept either; a sender must pick one.
  EXPECT_THAT(Problem(WithUpstream("127.0.0.1:1883", "  proxy_protocol: any\n")),
              HasSubstr("moat.yaml:5:"));
}

TEST_F(ConfigTest, SourceAddressesAreKeptInOrder) {
  const auto config = Load(WithUpstream(
      "127.0.0.1:1883", "  source_addresses: [\"127.0.0.2\", \"127.0.0.3\", \"192.0.2.9\"]\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->upstream.source_addresses,
              ElementsAre("127.0.0.2", "127.0.0.3", "192.0.2.9"));
}

TEST_F(ConfigTest, SourceAddressesOfEitherFamilyForABrokerNamedByHost) {
  const auto config = Load(
      WithUpstream("broker.local:1883", "  source_addresses: [\"192.0.2.9\", \"2001:db8::9\"]\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->upstream.source_addresses, ElementsAre("192.0.2.9", "2001:db8::9"));
}

TEST_F(ConfigTest, SourceAddressesRefusals) {
  EXPECT_EQ(Problem(WithUpstream("127.0.0.1:1883", "  source_addresses:\n    - moat.local\n")),
            "moat.yaml:6: 'upstream.source_addresses[0]' must be an IP address of this host, "
            "not 'moat.local'");
  EXPECT_EQ(Problem(WithUpstream("127.0.0.1:1883", "  source_addresses:\n    - 0.0.0.0\n")),
            "moat.yaml:6: 'upstream.source_addresses[0]' must be a unicast address of this "
            "host, not '0.0.0.0'");
  EXPECT_EQ(Problem(WithUpstream("[2001:db8::1]:1883", "  source_addresses:\n    - \"ff02::1\"\n")),
            "moat.yaml:6: 'upstream.source_addresses[0]' must be a unicast address of this "
            "host, not 'ff02::1'");
  EXPECT_EQ(
      Problem(
          WithUpstream("127.0.0.1:1883", "  source_addresses:\n    - 127.0.0.2\n    - \"::1\"\n")),
      "moat.yaml:7: 'upstream.source_addresses[1]' ::1 is IPv6 but upstream.address 127.0.0.1 "
      "is IPv4");
  EXPECT_EQ(Problem(WithUpstream("127.0.0.1:1883",
                                 "  source_addresses:\n    - 127.0.0.2\n    - 127.0.0.2\n")),
            "moat.yaml:7: 'upstream.source_addresses[1]' repeats 127.0.0.2 (also at line 6)");
  EXPECT_THAT(Problem(WithUpstream("127.0.0.1:1883", "  source_addresses: 127.0.0.2\n")),
              HasSubstr("moat.yaml:5:"));
}

}  // namespace
}  // namespace moat::config::test
