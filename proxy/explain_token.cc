#include "proxy/explain_token.h"

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "policy/acl/explain.h"
#include "policy/file_reading/file_text.h"
#include "policy/token/jwt.h"
#include "proxy/auth/tokens.h"

namespace moat::proxy {

int ExplainToken(const config::Config& config, const std::string& path,
                 policy::ClientIdentity& client, std::ostream& out, std::ostream& err) {
  if (!config.auth.jwt) {
    err << "--token: the config has no auth.jwt to check a token against\n";
    return policy::kExplainBadInput;
  }
  const config::Jwt& jwt = *config.auth.jwt;
  auto text = file_reading::ReadFileText(path, "the token");
  if (!text.ok()) {
    err << text.status().message() << "\n";
    return policy::kExplainBadInput;
  }
  const std::string_view token = file_reading::TrimSpace(*text);
  policy::TokenCheck check;
  const bool claims_only = !token.empty() && token.front() == '{';
  if (claims_only) {
    check = policy::IdentityFromClaims(token, jwt.rules);
  } else {
    auto keys = policy::Jwks::Load(jwt.jwks_file);
    if (!keys.ok()) {
      err << keys.status().message() << "\n";
      return policy::kExplainBadInput;
    }
    check = policy::VerifyToken(token, **keys, jwt.rules, WallClockSeconds());
  }
  if (check.refusal != policy::TokenRefusal::kNone) {
    out << "deny (token refused: " << policy::TokenRefusalName(check.refusal) << ": "
        << check.detail << ")\n";
    return policy::kExplainDeny;
  }
  out << "token: identity " << check.token.identity << ", groups ["
      << absl::StrJoin(check.token.groups, ", ") << "]";
  if (claims_only) {
    out << " (claims file: not verified)\n";
  } else {
    const int64_t left = check.token.expires_at - WallClockSeconds();
    out << ", expires " << absl::FormatTime(absl::FromUnixSeconds(check.token.expires_at))
        << " (in " << left << " s)\n";
  }
  client.username = std::move(check.token.identity);
  client.groups = std::move(check.token.groups);
  client.memo = {};
  return policy::kExplainAllow;
}

}  // namespace moat::proxy
