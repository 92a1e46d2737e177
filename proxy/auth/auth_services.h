// Everything authentication shares across worker threads: the rules, the password file
// and its hashing pool, the ban list, and moat's own upstream password.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "policy/auth/authenticator.h"
#include "policy/auth/ban_list.h"
#include "proxy/admin/ban_store.h"
#include "proxy/auth/auth_pool.h"
#include "proxy/auth/client_ids.h"
#include "proxy/auth/credentials.h"
#include "proxy/auth/tokens.h"
#include "proxy/config/config.h"

namespace moat::proxy {

// The login rules of `config.auth`, as a reload hands them to new connections.
std::unique_ptr<policy::Authenticator> MakeAuthenticator(const config::Config& config);
// upstream.credentials: replace: the first line of upstream.password_file; empty without
// one. The error names the file.
absl::StatusOr<std::string> ReadUpstreamPassword(const config::Upstream& upstream);

struct AuthServices {
  ~AuthServices() {
    // The checks under way finish before what they read goes.
    if (pool) pool->Join();
  }

  std::unique_ptr<policy::Authenticator> authenticator;  // as at start; see LiveConfig
  // Password hashing and token checks; null when neither is configured.
  std::unique_ptr<AuthPool> pool;
  std::unique_ptr<Credentials> credentials;  // null without auth.password_file
  std::unique_ptr<Tokens> tokens;            // null without auth.jwt
  std::unique_ptr<policy::BanList> bans;     // null with "ban: off"
  std::string upstream_password;             // as at start; see LiveConfig
  ClientIds client_ids;                      // which identity holds which client id
  // Bans made through the admin API, loaded from admin.state_file; never null (empty
  // without the admin API).
  std::unique_ptr<admin::BanStore> manual_bans;

  // Loads the password file and the upstream password; errors name the file.
  static absl::StatusOr<std::unique_ptr<AuthServices>> Create(const config::Config& config);
};

}  // namespace moat::proxy
