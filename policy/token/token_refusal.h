// Why a bearer token (JWT) was refused: the label values of moat_token_refusals_total, so
// an operator can tell a clock problem (expired, not_yet_valid) from an attack (signature,
// algorithm) from a misconfigured issuer (issuer, audience, unknown_key).
#pragma once

#include <cstdint>
#include <string_view>

#define MOAT_TOKEN_REFUSALS(X)                                                               \
  X(kMalformed, "malformed")                /* not a compact JWS, bad JSON, bad base64 */    \
  X(kAlgorithm, "algorithm")                /* alg not allowed: none, HMAC, unlisted */      \
  X(kUnknownKey, "unknown_key")             /* no key with that kid (and that type) */       \
  X(kSignature, "signature")                /* the signature does not verify */              \
  X(kIssuer, "issuer")                      /* iss missing or not auth.jwt.issuer */         \
  X(kAudience, "audience")                  /* aud missing or without auth.jwt.audience */   \
  X(kExpired, "expired")                    /* exp missing or passed */                      \
  X(kNotYetValid, "not_yet_valid")          /* nbf in the future, or iat */                  \
  X(kIdentity, "identity")                  /* identity claim missing, empty or not text */  \
  X(kGroups, "groups")                      /* groups claim not a list of names, too long */ \
  X(kUsernameMismatch, "username_mismatch") /* CONNECT user name is not the identity */

namespace moat::policy {

#define MOAT_TOKEN_ENUMERATOR(id, name) id,
enum class TokenRefusal : uint8_t { kNone, MOAT_TOKEN_REFUSALS(MOAT_TOKEN_ENUMERATOR) };
#undef MOAT_TOKEN_ENUMERATOR

constexpr std::string_view TokenRefusalName(TokenRefusal refusal) {
#define MOAT_TOKEN_NAME_CASE(id, name) \
  case TokenRefusal::id:               \
    return name;
  switch (refusal) {
    case TokenRefusal::kNone:
      return "none";
      MOAT_TOKEN_REFUSALS(MOAT_TOKEN_NAME_CASE)
  }
#undef MOAT_TOKEN_NAME_CASE
  return "unknown";
}

}  // namespace moat::policy
