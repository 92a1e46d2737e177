#include "policy/token/jwt.h"

#include <jansson.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "policy/token/base64url.h"

namespace moat::policy {
namespace {

struct JsonFree {
  void operator()(json_t* json) const { json_decref(json); }
};
using Json = std::unique_ptr<json_t, JsonFree>;

// A token's JSON object. Duplicate members are refused: two "sub"s (or two "alg"s) would
// let the signer and moat read different values.
Json ParseObject(std::string_view base64url) {
  const std::optional<std::string> text = Base64UrlDecode(base64url);
  if (!text) return nullptr;
  json_error_t error;
  Json json(json_loadb(text->data(), text->size(), JSON_REJECT_DUPLICATES, &error));
  if (!json || !json_is_object(json.get())) return nullptr;
  return json;
}

// A string member without NUL bytes (JSON may encode one as \u0000; jansson keeps it).
std::optional<std::string_view> Text(json_t* object, const char* member) {
  json_t* value = json_object_get(object, member);
  if (!json_is_string(value)) return std::nullopt;
  std::string_view text(json_string_value(value), json_string_length(value));
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  return text;
}

// A NumericDate (RFC 7519 section 2): seconds, possibly fractional.
std::optional<int64_t> Seconds(json_t* object, const char* member) {
  json_t* value = json_object_get(object, member);
  if (!json_is_number(value)) return std::nullopt;
  const double seconds = json_number_value(value);
  if (!std::isfinite(seconds) || std::abs(seconds) > 1e15) return std::nullopt;
  return static_cast<int64_t>(std::floor(seconds));
}

TokenCheck Refuse(TokenRefusal refusal, std::string detail) {
  TokenCheck check;
  check.refusal = refusal;
  check.detail = std::move(detail);
  return check;
}

bool HoldsAudience(json_t* aud, const std::vector<std::string>& audiences) {
  auto accepted = [&](json_t* value) {
    if (!json_is_string(value)) return false;
    const std::string_view text(json_string_value(value), json_string_length(value));
    return std::find(audiences.begin(), audiences.end(), text) != audiences.end();
  };
  if (json_is_string(aud)) return accepted(aud);
  if (!json_is_array(aud)) return false;
  for (size_t i = 0; i < json_array_size(aud); ++i) {
    if (accepted(json_array_get(aud, i))) return true;
  }
  return false;
}

// The groups claim: a list of names, or one name.
std::optional<std::vector<std::string>> Groups(json_t* claims, const std::string& claim) {
  std::vector<std::string> groups;
  json_t* value = json_object_get(claims, claim.c_str());
  if (value == nullptr) return groups;  // no groups is a token with no group rights
  auto add = [&](json_t* item) {
    if (!json_is_string(item)) return false;
    const std::string_view name(json_string_value(item), json_string_length(item));
    if (name.empty() || name.size() > kMaxTokenGroupName ||
        name.find('\0') != std::string_view::npos) {
      return false;
    }
    groups.emplace_back(name);
    return true;
  };
  if (json_is_string(value)) {
    if (!add(value)) return std::nullopt;
    return groups;
  }
  if (!json_is_array(value) || json_array_size(value) > kMaxTokenGroups) return std::nullopt;
  for (size_t i = 0; i < json_array_size(value); ++i) {
    if (!add(json_array_get(value, i))) return std::nullopt;
  }
  return groups;
}

TokenCheck ClaimedIdentity(json_t* claims, const TokenRules& rules);

TokenCheck CheckClaims(json_t* claims, const TokenRules& rules, int64_t now) {
  const std::optional<std::string_view> issuer = Text(claims, "iss");
  if (!issuer || *issuer != rules.issuer) {
    return Refuse(TokenRefusal::kIssuer, "iss is not the configured issuer");
  }
  if (!HoldsAudience(json_object_get(claims, "aud"), rules.audiences)) {
    return Refuse(TokenRefusal::kAudience, "aud does not name this service");
  }
  // A token without exp would outlive every key rotation: refused. No skew for exp: the
  // session ends at exp on moat's clock, so a token past it would be let in only to be
  // ended at once.
  const std::optional<int64_t> expires = Seconds(claims, "exp");
  if (!expires) return Refuse(TokenRefusal::kExpired, "no exp claim");
  if (now >= *expires) {
    return Refuse(TokenRefusal::kExpired, absl::StrCat("expired ", now - *expires, " s ago"));
  }
  if (json_object_get(claims, "nbf") != nullptr) {
    const std::optional<int64_t> not_before = Seconds(claims, "nbf");
    if (!not_before || *not_before > now + rules.clock_skew_seconds) {
      return Refuse(TokenRefusal::kNotYetValid, "nbf is in the future");
    }
  }
  if (json_object_get(claims, "iat") != nullptr) {
    const std::optional<int64_t> issued = Seconds(claims, "iat");
    if (!issued || *issued > now + rules.clock_skew_seconds) {
      return Refuse(TokenRefusal::kNotYetValid, "iat is in the future");
    }
  }
  TokenCheck check = ClaimedIdentity(claims, rules);
  if (check.refusal == TokenRefusal::kNone) check.token.expires_at = *expires;
  return check;
}

TokenCheck ClaimedIdentity(json_t* claims, const TokenRules& rules) {
  const std::optional<std::string_view> identity = Text(claims, rules.identity_claim.c_str());
  if (!identity || identity->empty() || identity->size() > 65535) {
    return Refuse(TokenRefusal::kIdentity,
                  absl::StrCat("no usable '", rules.identity_claim, "' claim"));
  }
  TokenCheck check;
  check.token.identity = std::string(*identity);
  if (!rules.groups_claim.empty()) {
    auto groups = Groups(claims, rules.groups_claim);
    if (!groups) {
      return Refuse(TokenRefusal::kGroups,
                    absl::StrCat("'", rules.groups_claim, "' is not a list of at most ",
                                 kMaxTokenGroups, " names"));
    }
    check.token.groups = *std::move(groups);
  }
  return check;
}

}  // namespace

TokenCheck IdentityFromClaims(std::string_view claims_json, const TokenRules& rules) {
  json_error_t error;
  const Json claims(
      json_loadb(claims_json.data(), claims_json.size(), JSON_REJECT_DUPLICATES, &error));
  if (!claims || !json_is_object(claims.get())) {
    return Refuse(TokenRefusal::kMalformed,
                  absl::StrCat("line ", error.line, ": not a JSON object: ", error.text));
  }
  return ClaimedIdentity(claims.get(), rules);
}

bool LooksLikeToken(std::string_view password) {
  // Every JWS header is a JSON object, so its base64url starts "eyJ" ('{"').
  if (password.substr(0, 3) != "eyJ") return false;
  if (std::count(password.begin(), password.end(), '.') != 2) return false;
  return ParseObject(password.substr(0, password.find('.'))) != nullptr;
}

TokenCheck VerifyToken(std::string_view compact, const Jwks& keys, const TokenRules& rules,
                       int64_t now_seconds) {
  const size_t first_dot = compact.find('.');
  const size_t last_dot = compact.rfind('.');
  if (first_dot == std::string_view::npos || first_dot == last_dot ||
      compact.find('.', first_dot + 1) != last_dot) {
    return Refuse(TokenRefusal::kMalformed, "not a compact JWS (three dot-separated parts)");
  }
  // The signature check hands the whole token to cjose, which must see only well-formed
  // base64url (see IsBase64Url).
  if (!IsBase64Url(compact.substr(0, first_dot)) ||
      !IsBase64Url(compact.substr(first_dot + 1, last_dot - first_dot - 1)) ||
      !IsBase64Url(compact.substr(last_dot + 1))) {
    return Refuse(TokenRefusal::kMalformed, "a part is not base64url");
  }
  const Json header = ParseObject(compact.substr(0, first_dot));
  if (!header) return Refuse(TokenRefusal::kMalformed, "the header is not a JSON object");
  // Checked before any key is touched: "none", HMAC (which would use a public key as the
  // secret) and anything not allow-listed never get further.
  const std::optional<std::string_view> alg_name = Text(header.get(), "alg");
  const std::optional<JwsAlgorithm> algorithm =
      alg_name ? JwsAlgorithmFromName(*alg_name) : std::nullopt;
  if (!algorithm || std::find(rules.algorithms.begin(), rules.algorithms.end(), *algorithm) ==
                        rules.algorithms.end()) {
    return Refuse(TokenRefusal::kAlgorithm,
                  absl::StrCat("alg ", alg_name ? std::string(*alg_name) : "(none given)",
                               " is not allowed"));
  }
  // Critical extensions moat does not understand must not be ignored (RFC 7515 4.1.11).
  if (json_object_get(header.get(), "crit") != nullptr) {
    return Refuse(TokenRefusal::kMalformed, "crit header: no extension is understood");
  }
  std::string_view kid;
  if (json_object_get(header.get(), "kid") != nullptr) {
    const std::optional<std::string_view> named = Text(header.get(), "kid");
    if (!named) return Refuse(TokenRefusal::kMalformed, "kid is not a string");
    kid = *named;
  }
  Jwks::Lookup lookup;
  const Jwks::Key* key = keys.Find(kid, *algorithm, lookup);
  if (key == nullptr) {
    return Refuse(TokenRefusal::kUnknownKey, lookup == Jwks::Lookup::kWrongType
                                                 ? absl::StrCat("the key named by kid is not a ",
                                                                std::string(*alg_name), " key")
                                                 : std::string("no key with this kid"));
  }
  if (!keys.VerifySignature(*key, *algorithm, compact)) {
    return Refuse(TokenRefusal::kSignature, "the signature does not verify");
  }
  const Json claims = ParseObject(compact.substr(first_dot + 1, last_dot - first_dot - 1));
  if (!claims) return Refuse(TokenRefusal::kMalformed, "the claims are not a JSON object");
  return CheckClaims(claims.get(), rules, now_seconds);
}

}  // namespace moat::policy
