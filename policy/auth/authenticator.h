// Who is connecting, decided from CONNECT and the TLS client certificate before a byte
// reaches the broker. Pure logic: the password hash itself is checked elsewhere (on a
// worker pool), and this class says whether that is needed and for which name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moat::policy {

enum class AuthRequirement : uint8_t {
  kPassword,
  kCertificate,
  kCertificateAndPassword,
  kToken,                // a bearer token (auth.jwt) in the CONNECT password
  kPasswordOrToken,      // a password that looks like a token is one (LooksLikeToken())
  kCertificateAndToken,  // both, naming the same identity
};
constexpr bool TakesToken(AuthRequirement require) {
  return require == AuthRequirement::kToken || require == AuthRequirement::kPasswordOrToken ||
         require == AuthRequirement::kCertificateAndToken;
}
constexpr bool NeedsCertificate(AuthRequirement require) {
  return require == AuthRequirement::kCertificate ||
         require == AuthRequirement::kCertificateAndPassword ||
         require == AuthRequirement::kCertificateAndToken;
}

struct AuthOptions {
  bool allow_anonymous = false;
  bool have_password_file = false;
  AuthRequirement require = AuthRequirement::kPassword;
  bool certificate_identity = false;  // a verified certificate names the client
  std::string client_id_pattern;      // glob with "%u" for the identity; empty: any
};

// Why a CONNECT was refused; the session maps each to a CONNACK code.
enum class AuthFailure : uint8_t {
  kNone,
  kAnonymousRefused,         // 3.1.1 rc 5, MQTT 5 0x87
  kBadCredentials,           // unknown user or wrong password: rc 4, 0x86
  kCertificateRequired,      // rc 5, 0x87
  kCertificateUserMismatch,  // CONNECT user name is not the certificate's: rc 4, 0x86
  kClientIdRejected,         // rc 2, 0x85
  kUnsupportedAuthMethod,    // MQTT 5 enhanced authentication: 0x8C
  kBanned,                   // rc 5, 0x8A
  kBusy,                     // the hashing pool is full: rc 3, 0x89
  kBadToken,  // a bearer token that does not hold (TokenRefusal says why): rc 4, 0x86
};
std::string_view AuthFailureName(AuthFailure failure);

// How an admitted client proved who it is, for its audit line.
enum class AuthMethod : uint8_t {
  kAnonymous,  // nothing: no user name, or one no password file could check
  kPassword,
  kCertificate,
  kCertificateAndPassword,
  kToken,
  kCertificateAndToken,
};
std::string_view AuthMethodName(AuthMethod method);

struct AuthRequest {
  bool mqtt5 = false;
  bool mqtt31 = false;
  bool clean_start = true;
  std::string_view client_id;
  std::optional<std::string_view> username;
  bool has_password = false;
  bool password_is_token = false;  // shaped like a bearer token (policy/token/jwt.h)
  bool has_auth_method = false;    // MQTT 5 Authentication Method
  std::optional<std::string> certificate_identity;  // from a verified client certificate
};

struct AuthPlan {
  AuthFailure failure = AuthFailure::kNone;
  std::string identity;          // what policy knows the client by; empty: anonymous
  bool verify_password = false;  // check (identity, password) against the password file
  // Check the password as a bearer token; the token names the identity (with a
  // certificate, it must name the certificate's).
  bool verify_token = false;
  AuthMethod method = AuthMethod::kAnonymous;  // what vouches for `identity` once it holds
};

class Authenticator {
 public:
  explicit Authenticator(AuthOptions options) : options_(std::move(options)) {}

  // Everything that needs no hashing, in the order mosquitto users expect.
  AuthPlan Plan(const AuthRequest& request) const;
  // After the password (if any) checked out: the client id rules.
  AuthFailure CheckClientId(const AuthRequest& request, std::string_view identity) const;

 private:
  AuthOptions options_;
};

// Glob match where '*' is any run and '?' any one character; "%u" in `pattern` stands
// for `identity` taken literally, so an identity holding '*' or '?' gains no wildcard.
bool MatchClientIdPattern(std::string_view pattern, std::string_view identity,
                          std::string_view client_id);

}  // namespace moat::policy
