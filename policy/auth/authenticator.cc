#include "policy/auth/authenticator.h"

#include <vector>

namespace moat::policy {
namespace {

// A pattern element: a literal byte, or a wildcard.
struct Token {
  enum Kind : uint8_t { kLiteral, kAnyRun, kAnyOne } kind;
  char literal = 0;
};

std::vector<Token> Tokenize(std::string_view pattern, std::string_view identity) {
  std::vector<Token> tokens;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.substr(i, 2) == "%u") {
      for (char c : identity) tokens.push_back({Token::kLiteral, c});
      ++i;
    } else if (pattern[i] == '*') {
      tokens.push_back({Token::kAnyRun});
    } else if (pattern[i] == '?') {
      tokens.push_back({Token::kAnyOne});
    } else {
      tokens.push_back({Token::kLiteral, pattern[i]});
    }
  }
  return tokens;
}

}  // namespace

std::string_view AuthFailureName(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kNone:
      return "none";
    case AuthFailure::kAnonymousRefused:
      return "anonymous_refused";
    case AuthFailure::kBadCredentials:
      return "bad_credentials";
    case AuthFailure::kCertificateRequired:
      return "certificate_required";
    case AuthFailure::kCertificateUserMismatch:
      return "certificate_user_mismatch";
    case AuthFailure::kClientIdRejected:
      return "client_id_rejected";
    case AuthFailure::kUnsupportedAuthMethod:
      return "unsupported_auth_method";
    case AuthFailure::kBanned:
      return "banned";
    case AuthFailure::kBusy:
      return "busy";
    case AuthFailure::kBadToken:
      return "bad_token";
  }
  return "unknown";
}

std::string_view AuthMethodName(AuthMethod method) {
  switch (method) {
    case AuthMethod::kAnonymous:
      return "anonymous";
    case AuthMethod::kPassword:
      return "password";
    case AuthMethod::kCertificate:
      return "certificate";
    case AuthMethod::kCertificateAndPassword:
      return "certificate_and_password";
    case AuthMethod::kToken:
      return "token";
    case AuthMethod::kCertificateAndToken:
      return "certificate_and_token";
  }
  return "unknown";
}

bool MatchClientIdPattern(std::string_view pattern, std::string_view identity,
                          std::string_view client_id) {
  const std::vector<Token> tokens = Tokenize(pattern, identity);
  // Iterative glob with one backtrack point, linear in practice.
  size_t t = 0, c = 0, star_t = std::string_view::npos, star_c = 0;
  while (c < client_id.size()) {
    if (t < tokens.size() && tokens[t].kind == Token::kAnyRun) {
      star_t = t++;
      star_c = c;
    } else if (t < tokens.size() &&
               (tokens[t].kind == Token::kAnyOne || tokens[t].literal == client_id[c])) {
      ++t;
      ++c;
    } else if (star_t != std::string_view::npos) {
      t = star_t + 1;
      c = ++star_c;
    } else {
      return false;
    }
  }
  while (t < tokens.size() && tokens[t].kind == Token::kAnyRun) ++t;
  return t == tokens.size();
}

AuthPlan Authenticator::Plan(const AuthRequest& request) const {
  AuthPlan plan;
  // moat does not speak enhanced authentication; it must not pretend to [MQTT-4.12].
  if (request.has_auth_method) {
    plan.failure = AuthFailure::kUnsupportedAuthMethod;
    return plan;
  }
  const bool wants_certificate = NeedsCertificate(options_.require);
  if (wants_certificate || (options_.certificate_identity && request.certificate_identity)) {
    if (!request.certificate_identity) {
      plan.failure = AuthFailure::kCertificateRequired;
      return plan;
    }
    // The certificate names the client; a CONNECT user name may only repeat it.
    if (request.username && *request.username != *request.certificate_identity) {
      plan.failure = AuthFailure::kCertificateUserMismatch;
      return plan;
    }
    plan.identity = *request.certificate_identity;
    plan.method = AuthMethod::kCertificate;
    if (options_.require == AuthRequirement::kCertificateAndPassword) {
      if (!request.has_password || !options_.have_password_file) {
        plan.failure = AuthFailure::kBadCredentials;
        return plan;
      }
      plan.verify_password = true;
      plan.method = AuthMethod::kCertificateAndPassword;
    }
    if (options_.require == AuthRequirement::kCertificateAndToken) {
      if (!request.has_password) {
        plan.failure = AuthFailure::kBadToken;
        return plan;
      }
      plan.verify_token = true;
      plan.method = AuthMethod::kCertificateAndToken;
    }
    return plan;
  }
  const bool token =
      options_.require == AuthRequirement::kToken ||
      (options_.require == AuthRequirement::kPasswordOrToken && request.password_is_token);
  if (token && request.has_password) {
    // A token needs no user name: it names the client itself.
    plan.verify_token = true;
    plan.method = AuthMethod::kToken;
    return plan;
  }
  if (options_.require == AuthRequirement::kToken) {
    // No token: only an anonymous client may go on, where anonymous clients may.
    if (!request.username) {
      if (!options_.allow_anonymous) plan.failure = AuthFailure::kAnonymousRefused;
    } else if (!options_.allow_anonymous) {
      plan.failure = AuthFailure::kBadToken;
    }
    return plan;
  }
  if (!request.username) {
    if (!options_.allow_anonymous) plan.failure = AuthFailure::kAnonymousRefused;
    return plan;
  }
  if (!options_.have_password_file) {
    // Without a password file a user name proves nothing: the client is anonymous, and
    // never takes on the rules written for the user it names.
    if (!options_.allow_anonymous) plan.failure = AuthFailure::kBadCredentials;
    return plan;
  }
  plan.identity = std::string(*request.username);
  if (!request.has_password) {
    plan.failure = AuthFailure::kBadCredentials;
    return plan;
  }
  plan.verify_password = true;
  plan.method = AuthMethod::kPassword;
  return plan;
}

AuthFailure Authenticator::CheckClientId(const AuthRequest& request,
                                         std::string_view identity) const {
  if (request.client_id.empty()) {
    // 3.1 has no empty client ids; 3.1.1 only with a clean session [MQTT-3.1.3-8]; and a
    // broker-assigned id cannot be checked against a pattern.
    if (request.mqtt31 || (!request.mqtt5 && !request.clean_start) ||
        !options_.client_id_pattern.empty()) {
      return AuthFailure::kClientIdRejected;
    }
    return AuthFailure::kNone;
  }
  if (!options_.client_id_pattern.empty() &&
      !MatchClientIdPattern(options_.client_id_pattern, identity, request.client_id)) {
    return AuthFailure::kClientIdRejected;
  }
  return AuthFailure::kNone;
}

}  // namespace moat::policy
