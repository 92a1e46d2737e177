#include "policy/token/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "policy/token/base64url.h"
#include "tests/policy_token/token_maker.h"

namespace moat::policy {
namespace {

using ::moat::testing::KeyType;
using ::moat::testing::MakeKey;
using ::moat::testing::PrivateKey;
using ::moat::testing::PublicJwk;
using ::moat::testing::SignToken;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'900'000'000;

std::string Claims(std::string_view extra = "", int64_t exp = kNow + 600) {
  return absl::StrCat(R"({"iss":"https://issuer.example","aud":"moat","sub":"edge-7","exp":)", exp,
                      std::string(extra), "}");
}

class JwtTest : public ::testing::Test {
 protected:
  JwtTest()
      : rsa_(MakeKey(KeyType::kRsa)),
        ec_(MakeKey(KeyType::kP256)),
        ed_(MakeKey(KeyType::kEd25519)) {
    rules_.issuer = "https://issuer.example";
    rules_.audiences = {"moat"};
    rules_.groups_claim = "groups";
    auto jwks = Jwks::Parse("jwks.json", testing::JwksOf(PublicJwk(rsa_.get(), "r1") + "," +
                                                         PublicJwk(ec_.get(), "e1") + "," +
                                                         PublicJwk(ed_.get(), "d1")));
    EXPECT_TRUE(jwks.ok()) << jwks.status();
    if (jwks.ok()) jwks_ = *jwks;
  }

  TokenCheck Check(std::string_view token) { return VerifyToken(token, *jwks_, rules_, kNow); }

  PrivateKey rsa_, ec_, ed_;
  TokenRules rules_;
  std::shared_ptr<const Jwks> jwks_;
  Jwks::Lookup lookup_;
};

TEST_F(JwtTest, EachAllowedAlgorithmVerifies) {
  const std::string claims = Claims(R"(,"groups":["operators","site-a"])");
  for (const auto& [key, header] : {std::pair{rsa_.get(), R"({"alg":"RS256","kid":"r1"})"},
                                    std::pair{ec_.get(), R"({"alg":"ES256","kid":"e1"})"},
                                    std::pair{ed_.get(), R"({"alg":"EdDSA","kid":"d1"})"}}) {
    const TokenCheck check = Check(SignToken(key, header, claims));
    ASSERT_EQ(check.refusal, TokenRefusal::kNone) << header << ": " << check.detail;
    EXPECT_EQ(check.token.identity, "edge-7");
    EXPECT_THAT(check.token.groups, ElementsAre("operators", "site-a"));
    EXPECT_EQ(check.token.expires_at, kNow + 600);
  }
}

TEST_F(JwtTest, AlgorithmOutsideTheAllowListIsRefusedBeforeAnyKey) {
  rules_.algorithms = {JwsAlgorithm::kEs256};
  EXPECT_EQ(Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", Claims())).refusal,
            TokenRefusal::kAlgorithm);
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  const std::string token =
      Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(Claims()) + ".";
  EXPECT_EQ(Check(token).refusal, TokenRefusal::kAlgorithm);
}

TEST_F(JwtTest, HmacSignedWithThePublicKeyIsRefused) {
  // The classic key confusion: HS256 with the RSA public key as the secret.
  const std::string token =
      testing::SignHs256(testing::PublicPem(rsa_.get()), R"({"alg":"HS256","kid":"r1"})", Claims());
  EXPECT_EQ(Check(token).refusal, TokenRefusal::kAlgorithm);
  const std::string jwk_secret =
      testing::SignHs256(PublicJwk(rsa_.get(), "r1"), R"({"alg":"HS256"})", Claims());
  EXPECT_EQ(Check(jwk_secret).refusal, TokenRefusal::kAlgorithm);
}

TEST_F(JwtTest, UnknownKidAndWrongKeyTypeAreRefused) {
  EXPECT_EQ(Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"gone"})", Claims())).refusal,
            TokenRefusal::kUnknownKey);
  EXPECT_EQ(Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"e1"})", Claims())).refusal,
            TokenRefusal::kUnknownKey);
}

TEST_F(JwtTest, WithoutKidTheOnlyKeyOfThatTypeIsUsed) {
  EXPECT_EQ(Check(SignToken(ec_.get(), R"({"alg":"ES256"})", Claims())).refusal,
            TokenRefusal::kNone);
}

TEST_F(JwtTest, AnotherKeysSignatureIsRefused) {
  const PrivateKey stranger = MakeKey(KeyType::kRsa);
  EXPECT_EQ(Check(SignToken(stranger.get(), R"({"alg":"RS256","kid":"r1"})", Claims())).refusal,
            TokenRefusal::kSignature);
  const PrivateKey other_ed = MakeKey(KeyType::kEd25519);
  EXPECT_EQ(Check(SignToken(other_ed.get(), R"({"alg":"EdDSA","kid":"d1"})", Claims())).refusal,
            TokenRefusal::kSignature);
}

TEST_F(JwtTest, ChangedClaimsBreakTheSignature) {
  std::string token = SignToken(ec_.get(), R"({"alg":"ES256","kid":"e1"})", Claims());
  const size_t first = token.find('.'), last = token.rfind('.');
  token.replace(first + 1, last - first - 1,
                Base64UrlEncode(R"({"iss":"https://issuer.example","aud":"moat","sub":"admin",)"
                                R"("exp":1900000600})"));
  EXPECT_EQ(Check(token).refusal, TokenRefusal::kSignature);
}

TEST_F(JwtTest, IssuerAudienceAndTimesAreChecked) {
  auto sign = [&](std::string_view claims) {
    return Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", claims)).refusal;
  };
  EXPECT_EQ(sign(absl::StrCat(R"({"iss":"https://evil.example","aud":"moat","sub":"a","exp":)",
                              kNow + 60, "}")),
            TokenRefusal::kIssuer);
  EXPECT_EQ(sign(absl::StrCat(R"({"iss":"https://issuer.example","aud":"other","sub":"a","exp":)",
                              kNow + 60, "}")),
            TokenRefusal::kAudience);
  EXPECT_EQ(
      sign(absl::StrCat(R"({"iss":"https://issuer.example","aud":["x","moat"],"sub":"a","exp":)",
                        kNow + 60, "}")),
      TokenRefusal::kNone);
  // The skew is for the issuer's clock (nbf, iat); exp is where the session ends.
  EXPECT_EQ(sign(Claims("", kNow)), TokenRefusal::kExpired);
  EXPECT_EQ(sign(Claims("", kNow + 1)), TokenRefusal::kNone);
  EXPECT_EQ(sign(R"({"iss":"https://issuer.example","aud":"moat","sub":"a"})"),
            TokenRefusal::kExpired);
  EXPECT_EQ(sign(Claims(absl::StrCat(",\"nbf\":", kNow + 31))), TokenRefusal::kNotYetValid);
  EXPECT_EQ(sign(Claims(absl::StrCat(",\"iat\":", kNow + 31))), TokenRefusal::kNotYetValid);
  EXPECT_EQ(sign(Claims(absl::StrCat(",\"nbf\":", kNow + 10))), TokenRefusal::kNone);
}

TEST_F(JwtTest, IdentityAndGroupsClaimsMustBeUsable) {
  auto sign = [&](std::string_view claims) {
    return Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", claims));
  };
  rules_.identity_claim = "preferred_username";
  EXPECT_EQ(sign(Claims()).refusal, TokenRefusal::kIdentity);
  // jansson refuses \u0000 outright, so a NUL can never split a name.
  EXPECT_EQ(sign(Claims(R"(,"preferred_username":"a\u0000b")")).refusal, TokenRefusal::kMalformed);
  EXPECT_EQ(sign(Claims(R"(,"preferred_username":"op"}")")).refusal, TokenRefusal::kMalformed);
  const TokenCheck named = sign(Claims(R"(,"preferred_username":"op","groups":"admins")"));
  EXPECT_EQ(named.token.identity, "op");
  EXPECT_THAT(named.token.groups, ElementsAre("admins"));
  EXPECT_EQ(sign(Claims(R"(,"preferred_username":"op","groups":[1])")).refusal,
            TokenRefusal::kGroups);
}

TEST_F(JwtTest, DuplicateClaimsAndCritAreRefused) {
  const std::string duplicated =
      absl::StrCat(R"({"iss":"https://issuer.example","aud":"moat","sub":"a","sub":"admin","exp":)",
                   kNow + 60, "}");
  EXPECT_EQ(Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", duplicated)).refusal,
            TokenRefusal::kMalformed);
  EXPECT_EQ(
      Check(SignToken(rsa_.get(), R"({"alg":"RS256","kid":"r1","crit":["x"],"x":1})", Claims()))
          .refusal,
      TokenRefusal::kMalformed);
}

TEST_F(JwtTest, GarbageIsMalformed) {
  for (std::string_view garbage : {"", "a.b", "a.b.c.d", "eyJ.eyJ.x", "!!!.???.***"}) {
    EXPECT_EQ(Check(garbage).refusal, TokenRefusal::kMalformed) << garbage;
  }
}

// Debian 12's cjose aborts the process on a part with padding after one character of a
// quantum or a 4n+1 length; a client's password must never reach it in that shape.
TEST_F(JwtTest, PartsThatAreNotBase64UrlNeverReachTheJoseLibrary) {
  const std::string token = SignToken(rsa_.get(), R"({"alg":"RS256","kid":"r1"})", Claims());
  ASSERT_EQ(Check(token).refusal, TokenRefusal::kNone);
  const size_t first = token.find('.'), last = token.rfind('.');
  std::string padded_claims = token;
  padded_claims.insert(first + 2, "=");
  std::string stray_char_signature = token + "A";
  while ((stray_char_signature.size() - last - 1) % 4 != 1) stray_char_signature += "A";
  std::string padded_signature = token;
  padded_signature.insert(last + 2, "=AAA");
  for (const std::string& bad : {padded_claims, stray_char_signature, padded_signature}) {
    EXPECT_EQ(Check(bad).refusal, TokenRefusal::kMalformed) << bad;
    EXPECT_FALSE(jwks_->VerifySignature(*jwks_->Find("r1", JwsAlgorithm::kRs256, lookup_),
                                        JwsAlgorithm::kRs256, bad));
  }
  EXPECT_FALSE(IsBase64Url("QQ="));
  EXPECT_FALSE(IsBase64Url("QUFBQ"));
  EXPECT_TRUE(IsBase64Url("QUFBQQ"));
}

TEST(LooksLikeToken, TellsTokensFromPasswords) {
  const std::string token = Base64UrlEncode(R"({"alg":"RS256"})") + ".e30.c2ln";
  EXPECT_TRUE(LooksLikeToken(token));
  EXPECT_FALSE(LooksLikeToken("correct horse battery staple"));
  EXPECT_FALSE(LooksLikeToken("eyJhbGciOi.nope"));
  EXPECT_FALSE(LooksLikeToken("eyJ!.a.b"));
}

TEST(Jwks, RefusesSecretsPrivateKeysWeakKeysAndDuplicates) {
  auto problems = [](std::string_view text) {
    auto jwks = Jwks::Parse("jwks.json", text);
    return jwks.ok() ? std::string() : std::string(jwks.status().message());
  };
  EXPECT_THAT(problems(R"({"keys": [
  {"kty": "oct", "k": "c2VjcmV0"}
]})"),
              HasSubstr("jwks.json:2: 'keys[0]' holds private key material ('k')"));
  EXPECT_THAT(problems(R"({"keys": [{"kty": "oct"}]})"), HasSubstr("shared secret"));
  const PrivateKey rsa = MakeKey(KeyType::kRsa);
  std::string with_d = PublicJwk(rsa.get(), "r");
  with_d.insert(1, "\"d\":\"AQAB\",");
  EXPECT_THAT(problems(testing::JwksOf(with_d)), HasSubstr("private key material ('d')"));
  EXPECT_THAT(problems(R"({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]})"),
              HasSubstr("under 2048 bits"));
  const std::string jwk = PublicJwk(rsa.get(), "same");
  EXPECT_THAT(problems(testing::JwksOf(jwk + "," + jwk)), HasSubstr("given to two keys"));
  EXPECT_THAT(problems(R"({"keys": []})"), HasSubstr("no signing key"));
  EXPECT_THAT(problems("{\"keys\": [\n{\"kty\": \"EC\", \"crv\": \"P-384\", \"x\": \"AA\", "
                       "\"y\": \"AA\"}]}"),
              HasSubstr("jwks.json:2: 'keys[0].crv' must be P-256"));
  std::string wrong_alg = PublicJwk(rsa.get(), "r");
  wrong_alg.insert(1, "\"alg\":\"RS512\",");
  EXPECT_THAT(problems(testing::JwksOf(wrong_alg)), HasSubstr("must be for RS256"));
  EXPECT_THAT(problems("{\"keys\": [ {\"kty\": "), HasSubstr("jwks.json:1: YAML syntax error"));
}

TEST(Jwks, SkipsEncryptionKeys) {
  const PrivateKey rsa = MakeKey(KeyType::kRsa), ec = MakeKey(KeyType::kP256);
  std::string encryption = PublicJwk(rsa.get(), "enc");
  encryption.insert(1, "\"use\":\"enc\",\"alg\":\"RSA-OAEP\",");
  auto jwks = Jwks::Parse("jwks.json", testing::JwksOf(encryption + "," + PublicJwk(ec.get(), "")));
  ASSERT_TRUE(jwks.ok()) << jwks.status();
  EXPECT_EQ((*jwks)->size(), 1u);
}

}  // namespace
}  // namespace moat::policy
