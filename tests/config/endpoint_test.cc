// ParseEndpoint() and Endpoint::ToString(): the host:port strings of binds and the
// upstream address.
#include "proxy/config/endpoint.h"

#include <gtest/gtest.h>

namespace moat::config {
namespace {

Endpoint Parsed(std::string_view text) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(text);
  EXPECT_TRUE(endpoint.ok()) << text << ": " << endpoint.status();
  return endpoint.value_or(Endpoint{});
}

TEST(Endpoint, ParsesIpv4HostnameAndBracketedIpv6) {
  Endpoint e = Parsed("0.0.0.0:8883");
  EXPECT_EQ(e.host, "0.0.0.0");
  EXPECT_EQ(e.port, 8883);
  e = Parsed("Broker.Example-1.local:1");
  EXPECT_EQ(e.host, "broker.example-1.local");
  EXPECT_EQ(e.port, 1);
  e = Parsed("[::1]:65535");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 65535);
  e = Parsed("[::ffff:192.0.2.1]:80");
  EXPECT_EQ(e.host, "::ffff:192.0.2.1");
}

TEST(Endpoint, ToStringBracketsIpv6Only) {
  EXPECT_EQ(Parsed("[::]:8883").ToString(), "[::]:8883");
  EXPECT_EQ(Parsed("[2001:DB8::1]:8883").ToString(), "[2001:db8::1]:8883");
  EXPECT_EQ(Parsed("127.0.0.1:1883").ToString(), "127.0.0.1:1883");
  EXPECT_EQ(Parsed("localhost:1883").ToString(), "localhost:1883");
  EXPECT_EQ((Endpoint{"::1", 8883}).ToString(), "[::1]:8883");
}

TEST(Endpoint, RejectsMalformedAddresses) {
  for (const char* text : {"",
                           "8883",
                           ":8883",
                           "host:",
                           "host:0",
                           "host:65536",
                           "host:+80",
                           "host:8883 ",
                           "host:80x",
                           "host:123456",
                           "::1:8883",
                           "[::1]",
                           "[::1]8883",
                           "[::1:8883",
                           "[]:1",
                           "[1.2.3.4]:1",
                           "[::1%eth0]:1",
                           "1.2.3:1",
                           "1.2.3.256:1",
                           "-host:1",
                           "host-:1",
                           "a..b:1",
                           "under_score:1",
                           "sp ace:1",
                           "h\xC3\xA9:1"}) {
    EXPECT_FALSE(ParseEndpoint(text).ok()) << "accepted '" << text << "'";
  }
}

}  // namespace
}  // namespace moat::config
