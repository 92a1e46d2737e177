// A client id belongs to the identity that holds it, live or with a persistent session
// the broker keeps: another identity cannot take it over; the owner can, as always.
#include "proxy/auth/client_ids.h"

#include <gtest/gtest.h>

namespace moat::proxy {
namespace {

const std::string kAlice = ClientIds::IdentityKey("alice", "");
const std::string kBob = ClientIds::IdentityKey("bob", "");

TEST(ClientIds, ALiveClientIdIsNotAnotherIdentitysToTake) {
  ClientIds ids;
  EXPECT_TRUE(ids.Claim("pump-7", kAlice, false));
  EXPECT_FALSE(ids.Claim("pump-7", kBob, false));
  EXPECT_TRUE(ids.Claim("pump-7", kAlice, false));  // the owner reconnecting takes over
  ids.Release("pump-7");
  ids.Release("pump-7");
  EXPECT_TRUE(ids.Claim("pump-7", kBob, false));  // gone with its sessions
}

TEST(ClientIds, APersistentSessionKeepsItsClientIdAfterTheClientLeaves) {
  ClientIds ids;
  EXPECT_TRUE(ids.Claim("hmi", kAlice, true));
  ids.Release("hmi");
  EXPECT_FALSE(ids.Claim("hmi", kBob, true));
  EXPECT_FALSE(ids.Claim("hmi", kBob, false));
  EXPECT_TRUE(ids.Claim("hmi", kAlice, false));  // ends the persistence...
  ids.Release("hmi");
  EXPECT_TRUE(ids.Claim("hmi", kBob, false));  // ...and with it the claim
}

TEST(ClientIds, ACertificateIdentityIsNotTheUserOfTheSameName) {
  ClientIds ids;
  EXPECT_TRUE(ids.Claim("dev", ClientIds::IdentityKey("dev-7", ""), false));
  EXPECT_FALSE(ids.Claim("dev", ClientIds::IdentityKey("", "dev-7"), false));
}

TEST(ClientIds, AnonymousClientsOwnNothingAndTakeNothing) {
  ClientIds ids;
  const std::string anonymous = ClientIds::IdentityKey("", "");
  EXPECT_EQ(anonymous, ClientIds::kAnonymous);
  EXPECT_TRUE(ids.Claim("a-1", anonymous, true));
  EXPECT_EQ(ids.size(), 0u);
  EXPECT_TRUE(ids.Claim("a-1", kAlice, false));
  EXPECT_FALSE(ids.Claim("a-1", anonymous, false));
}

TEST(ClientIds, RememberedClientIdsAreBounded) {
  ClientIds ids(/*max_remembered=*/3);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(ids.Claim("c" + std::to_string(i), kAlice, true));
    ids.Release("c" + std::to_string(i));
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(ids.Claim("c0", kBob, false));   // forgotten, oldest first
  EXPECT_FALSE(ids.Claim("c9", kBob, false));  // still remembered
}

}  // namespace
}  // namespace moat::proxy
