#include "proxy/auth/auth_services.h"

#include <ctime>
#include <fstream>

#include "proxy/admin/ban_state_file.h"

namespace moat::proxy {

namespace {

// Logins waiting for the pool before more are answered "busy" (CONNACK 0x89 / rc 3).
constexpr size_t kMaxPendingChecks = 1024;

}  // namespace

std::unique_ptr<policy::Authenticator> MakeAuthenticator(const config::Config& config) {
  const config::Auth& auth = config.auth;
  policy::AuthOptions options;
  options.allow_anonymous = auth.allow_anonymous;
  options.have_password_file = !auth.password_file.empty();
  options.require = auth.require;
  options.certificate_identity = auth.certificate_identity != config::CertificateIdentity::kNone;
  options.client_id_pattern = auth.client_id_pattern;
  return std::make_unique<policy::Authenticator>(std::move(options));
}

absl::StatusOr<std::string> ReadUpstreamPassword(const config::Upstream& upstream) {
  std::string password;
  if (upstream.password_file.empty()) return password;
  std::ifstream in(upstream.password_file);
  if (!in || !std::getline(in, password)) {
    return absl::InvalidArgumentError(upstream.password_file +
                                      ":1: cannot read the upstream password");
  }
  return password;
}

absl::StatusOr<std::unique_ptr<AuthServices>> AuthServices::Create(const config::Config& config) {
  auto services = std::make_unique<AuthServices>();
  const config::Auth& auth = config.auth;
  services->authenticator = MakeAuthenticator(config);
  if (!auth.password_file.empty() || auth.jwt) {
    services->pool = std::make_unique<AuthPool>(auth.hash_threads, kMaxPendingChecks);
  }
  if (!auth.password_file.empty()) {
    services->credentials = std::make_unique<Credentials>(auth.password_file, *services->pool);
    if (auto status = services->credentials->Load(); !status.ok()) return status;
  }
  if (auth.jwt) {
    services->tokens =
        std::make_unique<Tokens>(auth.jwt->jwks_file, auth.jwt->rules, *services->pool);
    if (auto status = services->tokens->Load(); !status.ok()) return status;
  }
  if (auth.ban) {
    services->bans =
        std::make_unique<policy::BanList>(auth.ban->failures, auth.ban->window, auth.ban->duration);
  }
  services->manual_bans = std::make_unique<admin::BanStore>(config.admin.max_bans);
  if (config.admin.bind) {
    auto bans = admin::LoadBanState(config.admin.state_file);
    if (!bans.ok()) return bans.status();
    services->manual_bans->Replace(*std::move(bans), std::time(nullptr));
  }
  auto upstream_password = ReadUpstreamPassword(config.upstream);
  if (!upstream_password.ok()) return upstream_password.status();
  services->upstream_password = *std::move(upstream_password);
  return services;
}

}  // namespace moat::proxy
