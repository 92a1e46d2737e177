// Arbitrary bytes as a bearer token and as a JWKS file: both come from outside (a client's
// CONNECT password, an issuer's key file), so nothing may crash, leak or read out of
// bounds, and
//   - a token is never accepted: the harness's keys sign nothing, so any acceptance means
//     a signature was skipped (an algorithm or key mix-up);
//   - a refused JWKS gives only "FILE:LINE: message" lines, LINE within the file and
//     ascending.
//
//   input: the whole token, and the whole JWKS text
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "fuzz/problem_lines.h"
#include "policy/token/base64url.h"
#include "policy/token/jwt.h"

namespace {

// One key of each type, with kids tokens in the seeds name. Not real keys: an RSA modulus
// of all ones bits and an Ed25519 point nobody holds the private half of.
std::shared_ptr<const moat::policy::Jwks> Keys() {
  using moat::policy::Base64UrlEncode;
  const std::string n = Base64UrlEncode(std::string(256, '\xff'));
  const std::string x = Base64UrlEncode(std::string(32, '\x11'));
  const std::string text =
      "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"r1\", \"n\": \"" + n +
      "\", \"e\": \"AQAB\"}, {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"d1\", \"x\": \"" +
      x + "\"}]}";
  auto keys = moat::policy::Jwks::Parse("jwks.json", text);
  moat::fuzz::Check(keys.ok(), "the harness's own JWKS loads");
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const moat::policy::Jwks> keys = Keys();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  moat::policy::TokenRules rules;
  rules.issuer = "https://issuer.example";
  rules.audiences = {"moat"};
  rules.groups_claim = "groups";
  const moat::policy::TokenCheck check =
      moat::policy::VerifyToken(input, *keys, rules, 1'900'000'000);
  moat::fuzz::Check(check.refusal != moat::policy::TokenRefusal::kNone,
                    "no token verifies against keys nobody holds");
  (void)moat::policy::LooksLikeToken(input);
  (void)moat::policy::IdentityFromClaims(input, rules);
  const auto jwks = moat::policy::Jwks::Parse("jwks.json", input);
  if (!jwks.ok()) moat::fuzz::CheckRefusal(input, "jwks.json", jwks.status());
  return 0;
}
