// Bearer tokens (compact JWS, RFC 7515/7519) checked against a JWKS and the issuer's
// rules: the allow-listed algorithm first (so "none" and HMAC never reach a key), then
// the key by kid, the signature, and only then the claims. Pure: the caller gives the
// time, and runs it off the I/O threads (proxy/auth/tokens.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/token/jwks.h"
#include "policy/token/token_refusal.h"

namespace moat::policy {

struct TokenRules {
  std::string issuer;                  // iss must equal it
  std::vector<std::string> audiences;  // aud (a string or a list) must hold one of them
  std::vector<JwsAlgorithm> algorithms{JwsAlgorithm::kRs256, JwsAlgorithm::kEs256,
                                       JwsAlgorithm::kEdDsa};
  std::string identity_claim = "sub";
  std::string groups_claim;         // empty: a token carries no groups
  int64_t clock_skew_seconds = 30;  // for nbf and iat (the issuer's clock ahead of moat's)
};

// Bounds on what a token may make moat hold per session.
inline constexpr size_t kMaxTokenGroups = 256;
inline constexpr size_t kMaxTokenGroupName = 256;

struct VerifiedToken {
  std::string identity;
  std::vector<std::string> groups;
  int64_t expires_at = 0;  // seconds since the epoch
};

struct TokenCheck {
  TokenRefusal refusal = TokenRefusal::kNone;
  VerifiedToken token;
  std::string detail;  // for logs and `policy explain`: never the token itself
};

TokenCheck VerifyToken(std::string_view compact, const Jwks& keys, const TokenRules& rules,
                       int64_t now_seconds);

// The identity and groups an (unsigned) claims object yields under `rules`, for `policy
// explain --token` with a claims file: nothing is verified, not even the times.
TokenCheck IdentityFromClaims(std::string_view claims_json, const TokenRules& rules);

// Whether a CONNECT password has the shape of a compact JWS (three base64url parts, a
// JSON header): with `auth.require: password_or_token` such a password is checked as a
// token, anything else against the password file.
bool LooksLikeToken(std::string_view password);

}  // namespace moat::policy
