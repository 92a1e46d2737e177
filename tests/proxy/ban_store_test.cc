// Manual bans (proxy/admin/ban_store.h) and their state file: what each kind of ban
// covers, expiry, the max_bans bound, and a round trip through the file.
#include "proxy/admin/ban_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "proxy/admin/ban_state_file.h"
#include "tests/file_reading/temp_dir.h"

namespace moat::proxy::admin {
namespace {

ManualBan Ban(std::string_view target, std::optional<int64_t> expires_at = std::nullopt) {
  absl::StatusOr<ManualBan> ban = ParseBanTarget(target);
  EXPECT_TRUE(ban.ok()) << ban.status();
  ban->expires_at = expires_at;
  return *ban;
}

TEST(BanStore, AnAddressBanCoversItsNetworkOnly) {
  BanStore store(10);
  ASSERT_TRUE(store.Add(Ban("192.0.2.0/24"), 100).ok());
  EXPECT_TRUE(store.AddressBanned("192.0.2.77", 100));
  EXPECT_TRUE(store.AddressBanned("::ffff:192.0.2.77", 100));
  EXPECT_FALSE(store.AddressBanned("198.51.100.1", 100));
  EXPECT_FALSE(store.UserBanned("192.0.2.77", 100));
}

TEST(BanStore, UserAndClientIdBansAreExactAndSeparate) {
  BanStore store(10);
  ASSERT_TRUE(store.Add(Ban("user:alice"), 100).ok());
  ASSERT_TRUE(store.Add(Ban("client:sensor-1"), 100).ok());
  EXPECT_TRUE(store.UserBanned("alice", 100));
  EXPECT_FALSE(store.UserBanned("alice2", 100));
  EXPECT_FALSE(store.ClientIdBanned("alice", 100));
  EXPECT_TRUE(store.ClientIdBanned("sensor-1", 100));
  EXPECT_FALSE(store.UserBanned("sensor-1", 100));
}

TEST(BanStore, ABanEndsAtItsExpiry) {
  BanStore store(10);
  ASSERT_TRUE(store.Add(Ban("user:alice", 200), 100).ok());
  EXPECT_TRUE(store.UserBanned("alice", 199));
  EXPECT_FALSE(store.UserBanned("alice", 200));
  EXPECT_TRUE(store.List(250).empty());
}

TEST(BanStore, RefusesANewBanPastMaxBansButReplacesAnExistingOne) {
  BanStore store(2);
  ASSERT_TRUE(store.Add(Ban("user:a"), 100).ok());
  ASSERT_TRUE(store.Add(Ban("user:b"), 100).ok());
  EXPECT_EQ(store.Add(Ban("user:c"), 100).code(), absl::StatusCode::kResourceExhausted);
  ManualBan again = Ban("user:a");
  again.reason = "still guessing";
  EXPECT_TRUE(store.Add(again, 100).ok());
  EXPECT_EQ(store.List(100).size(), 2u);
  EXPECT_EQ(store.List(100)[0].reason, "still guessing");
  // Expired bans make room.
  BanStore expiring(1);
  ASSERT_TRUE(expiring.Add(Ban("user:a", 150), 100).ok());
  EXPECT_TRUE(expiring.Add(Ban("user:b"), 160).ok());
}

TEST(BanStore, RemovesByTarget) {
  BanStore store(10);
  ASSERT_TRUE(store.Add(Ban("192.0.2.7"), 100).ok());
  EXPECT_FALSE(store.Remove(BanKind::kUser, "192.0.2.7", 100));
  EXPECT_TRUE(store.Remove(BanKind::kAddress, "192.0.2.7", 100));
  EXPECT_FALSE(store.AddressBanned("192.0.2.7", 100));
  EXPECT_EQ(store.size(), 0u);
}

TEST(BanStore, RejectsTargetsThatNameNothing) {
  EXPECT_FALSE(ParseBanTarget("user:").ok());
  EXPECT_FALSE(ParseBanTarget("client:").ok());
  EXPECT_FALSE(ParseBanTarget("not-an-address").ok());
  EXPECT_FALSE(ParseBanTarget("192.0.2.1/24").ok());  // host bits set: which network?
  EXPECT_TRUE(ParseBanTarget("2001:db8::/32").ok());
}

TEST(BanStateFile, RoundTripsEveryField) {
  moat::test::TempDir dir;
  const std::string path = dir.path() + "/state.json";
  ManualBan ban = Ban("203.0.113.0/24", 5000);
  ban.reason = "scanner";
  ban.created_by = "bearer";
  ban.created_at = 4000;
  ASSERT_TRUE(SaveBanState(path, {ban, Ban("user:mallory")}).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const absl::StatusOr<std::vector<ManualBan>> loaded = LoadBanState(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].Target(), "203.0.113.0/24");
  EXPECT_EQ((*loaded)[0].expires_at, 5000);
  EXPECT_EQ((*loaded)[0].reason, "scanner");
  EXPECT_EQ((*loaded)[0].created_by, "bearer");
  EXPECT_EQ((*loaded)[0].created_at, 4000);
  EXPECT_EQ((*loaded)[1].Target(), "user:mallory");
  EXPECT_FALSE((*loaded)[1].expires_at.has_value());
}

TEST(BanStateFile, AMissingFileIsNoBansAndABrokenOneIsAnErrorNamingIt) {
  moat::test::TempDir dir;
  const absl::StatusOr<std::vector<ManualBan>> none = LoadBanState(dir.path() + "/absent.json");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  const std::string broken = dir.Write("broken.json", "{\"bans\": [{\"target\": \"user:\"}]}");
  const absl::StatusOr<std::vector<ManualBan>> loaded = LoadBanState(broken);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message().substr(0, broken.size() + 10), broken + ": bans[0]:");
}

}  // namespace
}  // namespace moat::proxy::admin
