// Everything the admin API needs while moat runs, built from admin.* in one call: the
// bearer token, the TLS context, the sessions' reach and the HTTP(S) server.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "proxy/admin/admin_api.h"
#include "proxy/admin/admin_auth.h"
#include "proxy/admin/admin_server.h"
#include "proxy/admin/session_control.h"
#include "proxy/config/config.h"

namespace moat::proxy {
class Server;
struct AuthServices;
}  // namespace moat::proxy

namespace moat::proxy::admin {

class AdminRuntime {
 public:
  // Starts the API on admin.bind; call after Server::Init(). Errors name the setting.
  static absl::StatusOr<std::unique_ptr<AdminRuntime>> Start(const config::Config& config,
                                                             Server& server, AuthServices& auth,
                                                             metrics::MetricsRegistry& metrics);
  void Stop() { server_->Stop(); }

  // What a reload reads again for the admin API (admin.* itself cannot change while moat
  // runs): the bearer token file and the admin.tls files. Read before the reload is
  // accepted, installed only once it is, so a broken file refuses the whole reload.
  struct Files {
    std::string token;
    std::shared_ptr<SSL_CTX> tls;  // null without admin.tls
  };
  absl::StatusOr<Files> ReadFiles() const;
  void Install(Files files);

 private:
  AdminRuntime(const config::Admin& config, std::unique_ptr<WorkerSessions> sessions,
               std::unique_ptr<AdminAuth> auth, std::unique_ptr<AdminApi> api)
      : config_(config),
        sessions_(std::move(sessions)),
        auth_(std::move(auth)),
        api_(std::move(api)) {}

  const config::Admin& config_;  // the config moat started with: admin.* never changes
  std::unique_ptr<WorkerSessions> sessions_;
  std::unique_ptr<AdminAuth> auth_;
  std::unique_ptr<AdminApi> api_;
  std::unique_ptr<AdminServer> server_;
};

}  // namespace moat::proxy::admin
