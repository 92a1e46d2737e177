// The admin API's endpoints (proxy/admin/admin_api.h) with the workers replaced by a list
// of identities: what each answers, what it refuses, and that bans reach the state file
// and the sessions they cover.
#include "proxy/admin/admin_api.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "proxy/admin/ban_state_file.h"
#include "tests/file_reading/temp_dir.h"

namespace moat::proxy::admin {
namespace {

namespace json = boost::json;
using metrics::AdminOutcome;

policy::ClientIdentity Identity(std::string user, std::string client_id, std::string address = "") {
  policy::ClientIdentity identity;
  identity.username = std::move(user);
  identity.client_id = std::move(client_id);
  identity.address = std::move(address);
  return identity;
}

class FakeSessions : public SessionControl {
 public:
  std::optional<std::vector<SessionSnapshot>> List() override {
    std::vector<SessionSnapshot> list;
    for (const auto& identity : live) {
      SessionSnapshot snapshot;
      snapshot.identity = identity.username;
      snapshot.client_id = identity.client_id;
      snapshot.address = identity.address;
      snapshot.protocol_version = "5";
      snapshot.subscriptions = {{"a/#", 1}};
      list.push_back(std::move(snapshot));
    }
    return list;
  }
  std::optional<size_t> End(SessionMatch match) override {
    const size_t before = live.size();
    std::erase_if(live, [&](const policy::ClientIdentity& identity) { return match(identity); });
    return before - live.size();
  }
  std::vector<policy::ClientIdentity> live;
};

class AdminApiTest : public ::testing::Test {
 protected:
  ApiResponse Call(std::string_view method, std::string_view path, std::string_view body = "") {
    return api_.Handle(
        {.method = method, .path = path, .body = body, .actor = "bearer", .address = "127.0.0.1"});
  }
  static json::value Json(const ApiResponse& response) { return json::parse(response.body); }

  moat::test::TempDir dir_;
  std::string state_ = dir_.path() + "/state.json";
  FakeSessions sessions_;
  BanStore bans_{3};
  int64_t now_ = 1000;
  AdminApi api_{sessions_, bans_, state_, [this] { return now_; }};
};

TEST_F(AdminApiTest, ListsSessions) {
  sessions_.live = {Identity("alice", "c1", "192.0.2.1")};
  const ApiResponse response = Call("GET", "/v1/sessions");
  ASSERT_EQ(response.status, 200u) << response.body;
  const json::value session = Json(response).at("sessions").at(0);
  EXPECT_EQ(session.at("identity").as_string(), "alice");
  EXPECT_EQ(session.at("client_id").as_string(), "c1");
  EXPECT_EQ(session.at("subscriptions").at(0).at("filter").as_string(), "a/#");
}

TEST_F(AdminApiTest, KicksByClientIdOrIdentity) {
  sessions_.live = {Identity("alice", "c1"), Identity("alice", "c2"), Identity("bob", "c3")};
  ApiResponse response = Call("POST", "/v1/sessions/kick", R"({"client_id": "c3"})");
  ASSERT_EQ(response.status, 200u) << response.body;
  EXPECT_EQ(Json(response).at("sessions_ended").to_number<int64_t>(), 1);
  response = Call("POST", "/v1/sessions/kick", R"({"identity": "alice"})");
  EXPECT_EQ(Json(response).at("sessions_ended").to_number<int64_t>(), 2);
  EXPECT_TRUE(sessions_.live.empty());
  response = Call("POST", "/v1/sessions/kick", R"({"client_id": "c3"})");
  EXPECT_EQ(response.status, 404u);
  EXPECT_EQ(response.outcome, AdminOutcome::kNotFound);
}

TEST_F(AdminApiTest, RefusesBadBodiesAndUnknownPaths) {
  EXPECT_EQ(Call("POST", "/v1/sessions/kick", "not json").status, 400u);
  EXPECT_EQ(Call("POST", "/v1/sessions/kick", "{}").status, 400u);
  EXPECT_EQ(Call("POST", "/v1/sessions/kick", R"({"client_id": 7})").status, 400u);
  EXPECT_EQ(Call("POST", "/v1/bans", R"({"target": "nonsense"})").status, 400u);
  EXPECT_EQ(Call("POST", "/v1/bans", R"({"target": "user:x", "duration": "soon"})").status, 400u);
  EXPECT_EQ(Call("DELETE", "/v1/sessions").status, 405u);
  const ApiResponse unknown = Call("GET", "/v2/everything");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(unknown.outcome, AdminOutcome::kNotFound);
}

TEST_F(AdminApiTest, ABanIsSavedEndsTheSessionsItCoversAndExpires) {
  sessions_.live = {Identity("alice", "c1", "192.0.2.1"), Identity("bob", "c2", "198.51.100.1")};
  const ApiResponse response =
      Call("POST", "/v1/bans", R"({"target": "192.0.2.0/24", "duration": "1h", "reason": "scan"})");
  ASSERT_EQ(response.status, 201u) << response.body;
  EXPECT_EQ(Json(response).at("sessions_ended").to_number<int64_t>(), 1);
  EXPECT_EQ(Json(response).at("ban").at("expires_at").as_int64(), 1000 + 3600);
  ASSERT_EQ(sessions_.live.size(), 1u);
  EXPECT_EQ(sessions_.live[0].username, "bob");
  const auto saved = LoadBanState(state_);
  ASSERT_TRUE(saved.ok());
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].reason, "scan");
  EXPECT_EQ((*saved)[0].created_by, "bearer");
  EXPECT_TRUE(bans_.AddressBanned("192.0.2.9", now_));
  now_ += 3600;
  EXPECT_FALSE(bans_.AddressBanned("192.0.2.9", now_));
}

TEST_F(AdminApiTest, ListsAndRemovesBans) {
  ASSERT_EQ(Call("POST", "/v1/bans", R"({"target": "user:mallory"})").status, 201u);
  ApiResponse list = Call("GET", "/v1/bans");
  EXPECT_EQ(Json(list).at("bans").at(0).at("target").as_string(), "user:mallory");
  EXPECT_TRUE(Json(list).at("bans").at(0).at("expires_at").is_null());
  EXPECT_EQ(Call("POST", "/v1/bans/remove", R"({"target": "user:mallory"})").status, 200u);
  EXPECT_EQ(Call("POST", "/v1/bans/remove", R"({"target": "user:mallory"})").status, 404u);
  EXPECT_TRUE(LoadBanState(state_)->empty());
}

TEST_F(AdminApiTest, RefusesBansPastMaxBans) {
  for (const char* user : {"a", "b", "c"}) {
    ASSERT_EQ(Call("POST", "/v1/bans", std::string(R"({"target": "user:)") + user + "\"}").status,
              201u);
  }
  const ApiResponse full = Call("POST", "/v1/bans", R"({"target": "user:d"})");
  EXPECT_EQ(full.status, 507u);
  EXPECT_EQ(full.outcome, AdminOutcome::kBanLimit);
}

TEST_F(AdminApiTest, ListsAndLiftsAutomaticBans) {
  // Without auth.ban there are none, and nothing to lift.
  EXPECT_EQ(Json(Call("GET", "/v1/bans/automatic")).at("bans").as_array().size(), 0u);
  EXPECT_EQ(Call("POST", "/v1/bans/automatic/remove", R"({"address": "192.0.2.7"})").status, 404u);
  policy::BanList automatic(1, std::chrono::minutes(1), std::chrono::minutes(10));
  AdminApi api(
      sessions_, bans_, state_, [this] { return now_; }, &automatic);
  const auto call = [&](std::string_view method, std::string_view path, std::string_view body) {
    return api.Handle({.method = method, .path = path, .body = body, .actor = "bearer"});
  };
  automatic.RecordFailure(policy::BanList::AddressKey("192.0.2.7"), policy::BanList::Clock::now());
  const json::value listed = Json(call("GET", "/v1/bans/automatic", ""));
  EXPECT_EQ(listed.at("bans").at(0).at("address").as_string(), "192.0.2.7");
  EXPECT_FALSE(listed.at("bans").at(0).as_object().contains("user"));
  EXPECT_FALSE(listed.at("truncated").as_bool());
  EXPECT_EQ(call("POST", "/v1/bans/automatic/remove", R"({"user": "x"})").status, 400u);
  EXPECT_EQ(call("POST", "/v1/bans/automatic/remove", R"({"address": "192.0.2.7"})").status, 200u);
  EXPECT_EQ(call("POST", "/v1/bans/automatic/remove", R"({"address": "192.0.2.7"})").status, 404u);
}

TEST_F(AdminApiTest, ABanThatCannotBeSavedIsUndone) {
  AdminApi api(sessions_, bans_, dir_.path() + "/no/such/folder/state.json", [] { return 1; });
  const ApiResponse response = api.Handle(
      {.method = "POST", .path = "/v1/bans", .body = R"({"target": "user:x"})", .actor = "bearer"});
  EXPECT_EQ(response.status, 500u);
  EXPECT_EQ(response.outcome, AdminOutcome::kError);
  EXPECT_FALSE(bans_.UserBanned("x", 1));
}

}  // namespace
}  // namespace moat::proxy::admin
