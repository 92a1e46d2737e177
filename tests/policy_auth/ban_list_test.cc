// Bans by source address and by user as tried from one address: repeated failures ban
// that source, never the user everywhere, and memory stays bounded.
#include "policy/auth/ban_list.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace moat::policy {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const BanList::Clock::time_point kNow{std::chrono::hours(1)};

TEST(BanList, TheNthFailureWithinTheWindowBansForTheDuration) {
  BanList bans(3, minutes(1), minutes(10));
  EXPECT_FALSE(bans.RecordFailure("k", kNow));
  EXPECT_FALSE(bans.RecordFailure("k", kNow + seconds(10)));
  EXPECT_TRUE(bans.RecordFailure("k", kNow + seconds(20)));
  EXPECT_TRUE(bans.IsBanned("k", kNow + minutes(10)));
  EXPECT_FALSE(bans.IsBanned("k", kNow + seconds(20) + minutes(10)));
}

TEST(BanList, FailuresSpreadWiderThanTheWindowNeverBan) {
  BanList bans(3, minutes(1), minutes(10));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(bans.RecordFailure("k", kNow + minutes(2) * i));
}

TEST(BanList, AUserIsBannedOnlyFromTheAddressThatFailed) {
  BanList bans(2, minutes(1), minutes(10));
  const std::string stranger = BanList::UserAtAddressKey("alice", "198.51.100.7");
  bans.RecordFailure(stranger, kNow);
  EXPECT_TRUE(bans.RecordFailure(stranger, kNow));
  EXPECT_TRUE(bans.IsBanned(stranger, kNow));
  EXPECT_FALSE(bans.IsBanned(BanList::UserAtAddressKey("alice", "203.0.113.9"), kNow));
}

TEST(BanList, CountingNeverBans) {
  BanList bans(2, minutes(1), minutes(10));
  const std::string alice = BanList::UserKey("alice");
  EXPECT_EQ(bans.CountFailure(alice, kNow), 1u);
  EXPECT_EQ(bans.CountFailure(alice, kNow), 2u);
  EXPECT_EQ(bans.CountFailure(alice, kNow), 3u);
  EXPECT_FALSE(bans.IsBanned(alice, kNow));
  EXPECT_EQ(bans.CountFailure(alice, kNow + minutes(2)), 1u);  // a new window
}

TEST(BanList, IPv6SourcesCountByTheirSlash64) {
  EXPECT_EQ(BanList::AddressKey("2001:db8:0:1::7"), BanList::AddressKey("2001:db8:0:1:ffff::1"));
  EXPECT_NE(BanList::AddressKey("2001:db8:0:1::7"), BanList::AddressKey("2001:db8:0:2::7"));
  EXPECT_EQ(BanList::AddressKey("::ffff:192.0.2.7"), BanList::AddressKey("192.0.2.7"));
  EXPECT_NE(BanList::AddressKey("192.0.2.7"), BanList::AddressKey("192.0.2.8"));
}

TEST(BanList, WhenFullItForgetsCountsBeforeBans) {
  BanList bans(1, minutes(1), minutes(10), /*max_entries=*/4);
  EXPECT_TRUE(bans.RecordFailure("banned", kNow));
  for (int i = 0; i < 100; ++i) bans.CountFailure("count-" + std::to_string(i), kNow);
  EXPECT_TRUE(bans.IsBanned("banned", kNow));
  EXPECT_EQ(bans.ActiveBans(kNow), 1u);
}

TEST(BanList, AnOperatorSeesAndLiftsTheBansInForce) {
  BanList bans(1, minutes(1), minutes(10));
  EXPECT_TRUE(bans.RecordFailure(BanList::AddressKey("192.0.2.7"), kNow));
  EXPECT_TRUE(bans.RecordFailure(BanList::UserAtAddressKey("a@b", "2001:db8::1"), kNow));
  bans.CountFailure(BanList::UserKey("a@b"), kNow);  // counted, never a ban
  std::vector<BanList::ActiveBan> active = bans.Active(kNow + minutes(1), 10);
  ASSERT_EQ(active.size(), 2u);
  std::sort(active.begin(), active.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  EXPECT_EQ(active[0].address, "192.0.2.7");
  EXPECT_EQ(active[0].user, "");
  EXPECT_EQ(active[0].remaining, minutes(9));
  EXPECT_EQ(active[1].address, "2001:db8::/64");
  EXPECT_EQ(active[1].user, "a@b");  // an '@' in a user name survives
  EXPECT_EQ(bans.Active(kNow, 1).size(), 1u);

  EXPECT_FALSE(bans.Lift("192.0.2.8", "", kNow));
  EXPECT_TRUE(bans.Lift("192.0.2.7", "", kNow));
  EXPECT_FALSE(bans.IsBanned(BanList::AddressKey("192.0.2.7"), kNow));
  EXPECT_TRUE(bans.Lift("2001:db8::99", "a@b", kNow));  // any address of the /64
  EXPECT_TRUE(bans.Active(kNow, 10).empty());
  EXPECT_FALSE(bans.Lift("2001:db8::1", "a@b", kNow));
}

}  // namespace
}  // namespace moat::policy
