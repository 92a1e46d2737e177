// auth.jwt: what bearer tokens are checked against, and the auth.require choices that
// take them. Everything an issuer or audience could be left open by is an error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/config/config_fixture.h"

namespace moat::config::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kJwt =
    "auth:\n"
    "  jwt:\n"
    "    jwks_file: jwks.json\n"
    "    issuer: https://issuer.example\n"
    "    audience: [moat, moat-staging]\n";

// The file's contents are read by AuthServices (and moat --check-config), not the config.
class JwtConfigTest : public ConfigTest {
 protected:
  JwtConfigTest() { dir_.Write("jwks.json", "{}"); }
};

TEST_F(JwtConfigTest, JwtDefaultsToRequiringATokenWithEveryAllowedAlgorithm) {
  const auto config = Load(std::string(kMinimal) + std::string(kJwt));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->auth.jwt.has_value());
  EXPECT_EQ(config->auth.require, policy::AuthRequirement::kToken);
  const policy::TokenRules& rules = config->auth.jwt->rules;
  EXPECT_EQ(rules.issuer, "https://issuer.example");
  EXPECT_THAT(rules.audiences, ElementsAre("moat", "moat-staging"));
  EXPECT_THAT(rules.algorithms,
              ElementsAre(policy::JwsAlgorithm::kRs256, policy::JwsAlgorithm::kEs256,
                          policy::JwsAlgorithm::kEdDsa));
  EXPECT_EQ(rules.identity_claim, "sub");
  EXPECT_EQ(rules.clock_skew_seconds, 30);
  EXPECT_FALSE(config->auth.jwt->match_username);
  EXPECT_THAT(config->auth.jwt->jwks_file, HasSubstr("/jwks.json"));
}

TEST_F(JwtConfigTest, JwtNeedsKeysIssuerAndAudience) {
  EXPECT_THAT(Problems(std::string(kMinimal) + "auth:\n  jwt:\n    groups_claim: g\n"),
              ElementsAre("moat.yaml:6: missing required key 'jwks_file' in 'auth.jwt'",
                          "moat.yaml:6: missing required key 'issuer' in 'auth.jwt'",
                          "moat.yaml:6: missing required key 'audience' in 'auth.jwt'"));
}

TEST_F(JwtConfigTest, JwtRefusesNoneAndHmacAlgorithms) {
  EXPECT_THAT(
      Problem(std::string(kMinimal) + std::string(kJwt) + "    algorithms: [RS256, HS256]\n"),
      HasSubstr("moat.yaml:10: 'auth.jwt.algorithms': 'HS256' is not accepted"));
  EXPECT_THAT(Problem(std::string(kMinimal) + std::string(kJwt) + "    algorithms: none\n"),
              HasSubstr("never none or HMAC"));
}

TEST_F(JwtConfigTest, RequireAndJwtMustAgree) {
  EXPECT_THAT(Problem(std::string(kMinimal) + "auth:\n  require: token\n"),
              HasSubstr("auth.require: token needs auth.jwt"));
  EXPECT_THAT(Problem(std::string(kMinimal) + std::string(kJwt) + "  require: password\n"),
              HasSubstr("never accepts a token"));
  EXPECT_THAT(Problem(std::string(kMinimal) + std::string(kJwt) + "  require: password_or_token\n"),
              HasSubstr("password_or_token needs auth.password_file"));
  EXPECT_THAT(
      Problem(std::string(kMinimal) + std::string(kJwt) + "  require: certificate_and_token\n"),
      HasSubstr("needs a certificate"));
}

TEST_F(JwtConfigTest, JwtClockSkewIsBounded) {
  EXPECT_THAT(Problem(std::string(kMinimal) + std::string(kJwt) + "    clock_skew: 1h\n"),
              HasSubstr("clock_skew"));
  const auto config = Load(std::string(kMinimal) + std::string(kJwt) + "    clock_skew: 5s\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->auth.jwt->rules.clock_skew_seconds, 5);
}

}  // namespace
}  // namespace moat::config::test
