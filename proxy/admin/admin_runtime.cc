#include "proxy/admin/admin_runtime.h"

#include <ctime>
#include <fstream>

#include "proxy/auth/auth_services.h"
#include "proxy/server.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy::admin {
namespace {

// The workers answer within milliseconds unless one is stuck; then the API says so
// rather than hanging the caller.
constexpr std::chrono::seconds kWorkerAnswerTimeout(5);

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return absl::InvalidArgumentError(path + ":1: cannot read the admin bearer token");
  }
  if (!token.empty() && token.back() == '\r') token.pop_back();
  // A short token can be guessed over the network; 16 characters of anything is a floor.
  if (token.size() < 16) {
    return absl::InvalidArgumentError(path +
                                      ":1: the admin bearer token must be at least 16 "
                                      "characters");
  }
  return token;
}

}  // namespace

absl::StatusOr<AdminRuntime::Files> AdminRuntime::ReadFiles() const {
  Files files;
  absl::StatusOr<std::string> token = ReadToken(config_.bearer_token_file);
  if (!token.ok()) return token.status();
  files.token = *std::move(token);
  if (config_.tls) {
    auto context = tls::MakeServerContext(*config_.tls);
    if (!context.ok()) {
      return absl::InvalidArgumentError("admin.tls: " + std::string(context.status().message()));
    }
    files.tls = *context;
  }
  return files;
}

void AdminRuntime::Install(Files files) {
  auth_->SetToken(std::move(files.token));
  server_->SetTlsContext(std::move(files.tls));
}

absl::StatusOr<std::unique_ptr<AdminRuntime>> AdminRuntime::Start(
    const config::Config& config, Server& server, AuthServices& auth,
    metrics::MetricsRegistry& metrics) {
  const config::Admin& admin = config.admin;
  absl::StatusOr<std::string> token = ReadToken(admin.bearer_token_file);
  if (!token.ok()) return token.status();
  AdminServerOptions options{.host = admin.bind->host,
                             .port = admin.bind->port,
                             .tls = nullptr,
                             .max_connections = admin.max_connections,
                             .max_body_bytes = admin.max_body_bytes,
                             .request_timeout = admin.request_timeout};
  if (admin.tls) {
    auto context = tls::MakeServerContext(*admin.tls);
    if (!context.ok()) {
      return absl::InvalidArgumentError("admin.tls: " + std::string(context.status().message()));
    }
    options.tls = *context;
  }
  std::unique_ptr<AdminRuntime> runtime(new AdminRuntime(
      admin, std::make_unique<WorkerSessions>(server.workers(), kWorkerAnswerTimeout),
      std::make_unique<AdminAuth>(*std::move(token)), nullptr));
  runtime->api_ = std::make_unique<AdminApi>(
      *runtime->sessions_, *auth.manual_bans, admin.state_file,
      [] { return static_cast<int64_t>(std::time(nullptr)); }, auth.bans.get());
  auto started = AdminServer::Start(std::move(options), *runtime->api_, *runtime->auth_, metrics);
  if (!started.ok()) return started.status();
  runtime->server_ = *std::move(started);
  return runtime;
}

}  // namespace moat::proxy::admin
