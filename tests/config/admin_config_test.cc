// LoadConfig() for the admin section (issue 17): off unless admin.bind is set, never
// unauthenticated, and each mistake reported as "FILE:LINE: message".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"
#include "tests/config/config_fixture.h"

namespace moat::config {
namespace {

using test::ConfigTest;
using test::kMinimal;
using ::testing::HasSubstr;

// kMinimal has four lines, so "admin:" is line 5 and its first key line 6.
std::string WithAdmin(std::string_view body) {
  return std::string(kMinimal) + "admin:\n" + std::string(body);
}

TEST_F(ConfigTest, AdminIsOffByDefault) {
  const absl::StatusOr<Config> config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->admin.bind.has_value());
}

TEST_F(ConfigTest, LoadsAdminWithABearerTokenAndItsDefaults) {
  dir_.Write("token", "0123456789abcdef0123\n");
  const absl::StatusOr<Config> config = Load(WithAdmin(
      "  bind: \"127.0.0.1:9200\"\n  bearer_token_file: token\n  state_file: state.json\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->admin.bind->ToString(), "127.0.0.1:9200");
  EXPECT_EQ(config->admin.bearer_token_file, dir_.path() + "/token");
  // Need not exist yet: moat writes it at the first ban.
  EXPECT_EQ(config->admin.state_file, dir_.path() + "/state.json");
  EXPECT_EQ(config->admin.max_bans, 10'000u);
  EXPECT_EQ(config->admin.max_body_bytes, 64u * 1024);
  EXPECT_EQ(config->admin.max_connections, 16u);
  EXPECT_EQ(config->admin.request_timeout, std::chrono::seconds(10));
}

TEST_F(ConfigTest, RefusesAnUnauthenticatedAdminApi) {
  EXPECT_EQ(Problem(WithAdmin("  bind: \"127.0.0.1:9200\"\n  state_file: state.json\n")),
            "moat.yaml:6: 'admin.bind' is set but the admin API would be unauthenticated: give "
            "'admin.bearer_token_file' or 'admin.tls.client_ca' (client certificates)");
}

TEST_F(ConfigTest, RefusesAdminTlsWithoutClientCaOrToken) {
  dir_.Write("server.crt", "x");
  dir_.Write("server.key", "x");
  EXPECT_THAT(Problem(WithAdmin("  bind: \"127.0.0.1:9200\"\n  state_file: state.json\n"
                                "  tls:\n    cert: server.crt\n    key: server.key\n")),
              HasSubstr("moat.yaml:6: 'admin.bind' is set but the admin API would be "
                        "unauthenticated"));
}

TEST_F(ConfigTest, AdminNeedsAStateFileInAFolderThatExists) {
  dir_.Write("token", "0123456789abcdef0123\n");
  EXPECT_EQ(Problem(WithAdmin("  bind: \"127.0.0.1:9200\"\n  bearer_token_file: token\n")),
            "moat.yaml:5: missing required key 'state_file' in 'admin'");
  EXPECT_THAT(Problem(WithAdmin("  bind: \"127.0.0.1:9200\"\n  bearer_token_file: token\n"
                                "  state_file: no/such/folder/state.json\n")),
              HasSubstr("moat.yaml:8: 'admin.state_file': the folder"));
}

TEST_F(ConfigTest, AdminSettingsWithoutBindAreAnError) {
  dir_.Write("token", "0123456789abcdef0123\n");
  EXPECT_EQ(Problem(WithAdmin("  bearer_token_file: token\n")),
            "moat.yaml:5: 'admin' has settings but no 'bind': the admin API is off unless "
            "admin.bind is set");
}

TEST_F(ConfigTest, RejectsUnknownAdminKeysAndBadLimits) {
  dir_.Write("token", "0123456789abcdef0123\n");
  const std::string base =
      "  bind: \"127.0.0.1:9200\"\n  bearer_token_file: token\n  state_file: s.json\n";
  EXPECT_THAT(Problem(WithAdmin(base + "  max_banz: 3\n")), HasSubstr("moat.yaml:9:"));
  EXPECT_THAT(Problem(WithAdmin(base + "  max_bans: 0\n")), HasSubstr("moat.yaml:9:"));
  EXPECT_THAT(Problem(WithAdmin(base + "  max_body_bytes: 10\n")), HasSubstr("moat.yaml:9:"));
}

TEST_F(ConfigTest, WarnsOfAClearTextTokenOffLoopback) {
  dir_.Write("token", "0123456789abcdef0123\n");
  const absl::StatusOr<Config> config = Load(WithAdmin(
      "  bind: \"192.0.2.1:9200\"\n  bearer_token_file: token\n  state_file: state.json\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->warnings.size(), 2u);  // and "no policy"
  EXPECT_THAT(config->warnings[0], HasSubstr("moat.yaml:6: warning: the admin API's bearer token"));
}

}  // namespace
}  // namespace moat::config
