// Native-policy conditions: CIDR parsing and matching (IPv4, IPv6, IPv4-mapped), globs.
#include "policy/acl/conditions.h"

#include <gtest/gtest.h>

#include <string>

namespace moat::policy {
namespace {

bool Contains(std::string_view cidr_text, std::string_view address_text) {
  std::string error;
  const std::optional<Cidr> cidr = ParseCidr(cidr_text, &error);
  EXPECT_TRUE(cidr) << cidr_text << ": " << error;
  const std::optional<std::array<uint8_t, 16>> address = ParseAddress(address_text);
  EXPECT_TRUE(address) << address_text;
  return cidr && address && CidrContains(*cidr, *address);
}

std::string CidrError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(ParseCidr(text, &error)) << text;
  return error;
}

TEST(Cidr, MatchesIpv4Networks) {
  EXPECT_TRUE(Contains("10.0.0.0/8", "10.255.1.2"));
  EXPECT_FALSE(Contains("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(Contains("192.168.4.0/22", "192.168.7.255"));
  EXPECT_FALSE(Contains("192.168.4.0/22", "192.168.8.0"));
  EXPECT_TRUE(Contains("0.0.0.0/0", "203.0.113.9"));
  EXPECT_TRUE(Contains("203.0.113.9", "203.0.113.9"));  // a bare address is a /32
  EXPECT_FALSE(Contains("203.0.113.9", "203.0.113.8"));
}

TEST(Cidr, MatchesIpv6NetworksAndMappedIpv4) {
  EXPECT_TRUE(Contains("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(Contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(Contains("::1", "::1"));
  EXPECT_TRUE(Contains("fe80::/10", "febf::1"));
  EXPECT_FALSE(Contains("fe80::/10", "fec0::1"));
  EXPECT_TRUE(Contains("10.0.0.0/8", "::ffff:10.1.2.3"));  // IPv4 on a dual-stack socket
  EXPECT_TRUE(Contains("10.0.0.0/8", "[::ffff:10.1.2.3]"));
  EXPECT_FALSE(Contains("2001:db8::/32", "10.1.2.3"));
}

TEST(Cidr, ReportsEachProblem) {
  EXPECT_EQ(CidrError("10.0.0.1/8"), "has bits set past its prefix length");
  EXPECT_EQ(CidrError("10.0.0.0/33"), "has a prefix length over 32");
  EXPECT_EQ(CidrError("::/129"), "has a prefix length over 128");
  EXPECT_EQ(CidrError("10.0.0.0/"), "has a prefix length that is not a number");
  EXPECT_EQ(CidrError("10.0.0.0/-1"), "has a prefix length that is not a number");
  EXPECT_EQ(CidrError("example.com"), "is not an IPv4 or IPv6 address or network");
  EXPECT_EQ(CidrError(""), "is not an IPv4 or IPv6 address or network");
}

TEST(ParseAddress, RefusesWhatIsNotAnAddress) {
  EXPECT_FALSE(ParseAddress(""));
  EXPECT_FALSE(ParseAddress("1.2.3.4:1883"));
  EXPECT_FALSE(ParseAddress("localhost"));
  EXPECT_FALSE(ParseAddress(std::string(100, '1')));
}

TEST(Glob, StarAndQuestionMark) {
  EXPECT_TRUE(GlobMatches("sensor-*", "sensor-"));
  EXPECT_TRUE(GlobMatches("sensor-*", "sensor-17"));
  EXPECT_FALSE(GlobMatches("sensor-*", "sensor"));
  EXPECT_TRUE(GlobMatches("*-??", "gw-01"));
  EXPECT_FALSE(GlobMatches("*-??", "gw-1"));
  EXPECT_TRUE(GlobMatches("*", ""));
  EXPECT_TRUE(GlobMatches("a*b*c", "a-b-b-c"));
  EXPECT_FALSE(GlobMatches("a*b*c", "a-b-b-d"));
  EXPECT_TRUE(GlobMatches("exact", "exact"));
  EXPECT_FALSE(GlobMatches("exact", "Exact"));
  EXPECT_TRUE(GlobMatches("a+b", "a+b"));  // no other special characters
}

// Client ids are the client's to choose, so the work must not explode on a hostile one: a
// matcher that backtracks into every '*' takes text^stars steps on these (the classic glob
// denial of service); moat's takes steps in proportion to the text.
TEST(Glob, LongInputsStayLinearEnough) {
  const std::string many_stars = "*a*a*a*a*b";
  size_t steps_short = 0;
  size_t steps_long = 0;
  // Short enough that a matcher of the bad kind still ends and fails here, not hangs.
  EXPECT_FALSE(GlobMatches(many_stars, std::string(32, 'a'), &steps_short));
  EXPECT_FALSE(GlobMatches(many_stars, std::string(64, 'a'), &steps_long));
  ASSERT_GE(steps_short, 32u);  // every byte of the text is looked at
  // Twice the text, at most twice the work.
  ASSERT_LE(steps_long, 2 * steps_short + many_stars.size());

  const std::string text(20000, 'a');
  size_t steps = 0;
  EXPECT_FALSE(GlobMatches(many_stars, text, &steps));
  EXPECT_LE(steps, 2 * (many_stars.size() + text.size()));
  // The worst case: a literal after the '*' that fails only at its last byte is tried
  // at every byte of the text, glob * text steps and no more.
  const std::string long_literal = "*" + std::string(50, 'a') + "b";
  EXPECT_FALSE(GlobMatches(long_literal, text, &steps));
  EXPECT_LE(steps, (long_literal.size() + 1) * (text.size() + 1));
  EXPECT_TRUE(GlobMatches(long_literal, text + "b", &steps));
  EXPECT_LE(steps, (long_literal.size() + 1) * (text.size() + 2));
}

}  // namespace
}  // namespace moat::policy
