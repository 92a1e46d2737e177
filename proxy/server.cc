#include "proxy/server.h"

#include <ctime>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "proxy/auth/auth_services.h"
#include "proxy/cpu_budget.h"
#include "proxy/log.h"
#include "proxy/make_authorizer.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace moat::proxy {

Server::Server(const config::Config& config, std::shared_ptr<const policy::Authorizer> authorizer,
               AuthServices& auth, metrics::MetricsRegistry& metrics)
    : config_(config),
      authorizer_(std::move(authorizer)),
      auth_(auth),
      metrics_(metrics),
      gate_(config.limits),
      preauth_(config.limits.max_preauth_memory) {}

Server::~Server() {
  Stop();
  Wait();
}

absl::Status Server::Init() {
  auto contexts = tls::MakeTlsContexts(config_);
  if (!contexts.ok()) return contexts.status();
  std::vector<ListenerSetup> listeners;
  for (size_t i = 0; i < config_.listeners.size(); ++i) {
    listeners.push_back({&config_.listeners[i], contexts->listeners[i],
                         metrics::ListenerId{static_cast<uint32_t>(i)}});
  }
  upstream_health_ = std::make_unique<UpstreamHealth>(config_.upstream, contexts->upstream_servers,
                                                      config_.limits.tcp_keepalive,
                                                      auth_.upstream_password, &metrics_);
  upstream_pool_ = std::make_unique<UpstreamPool>(config_.upstream, *upstream_health_);
  metrics_tls_ = contexts->metrics;
  const int threads = DefaultThreads(config_.threads);
  LogInfo(absl::StrCat("workers: ", threads,
                       ", password hashing threads: ", DefaultThreads(config_.auth.hash_threads),
                       "; this process may use ", ProcessCpuBudget().Describe()));
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>(config_, authorizer_, auth_, gate_, preauth_,
                                           metrics_.AddThread(), listeners, *upstream_pool_);
    if (auto status = worker->Bind(); !status.ok()) return status;
    workers_.push_back(std::move(worker));
  }
  return absl::OkStatus();
}

void Server::Start() {
  upstream_health_->Start();
  for (auto& worker : workers_) worker->Start();
}

void Server::Stop() {
  for (auto& worker : workers_) worker->Stop();
}

absl::Status Server::Reload() {
  // Everything is read and checked first; only if all of it is good does anything
  // change, so a broken file leaves the old state whole.
  std::string problems;
  auto contexts = tls::MakeTlsContexts(config_);
  if (!contexts.ok()) problems += std::string(contexts.status().message()) + "\n";
  absl::StatusOr<std::shared_ptr<const policy::PasswordFile>> passwords;
  if (auth_.credentials) {
    passwords = auth_.credentials->Parse();
    if (!passwords.ok()) problems += std::string(passwords.status().message()) + "\n";
  }
  absl::StatusOr<std::shared_ptr<const policy::Jwks>> token_keys;
  if (auth_.tokens) {
    token_keys = auth_.tokens->Parse();
    if (!token_keys.ok()) problems += std::string(token_keys.status().message()) + "\n";
  }
  auto authorizer = MakeAuthorizer(config_, policy_version_ + 1);
  if (!authorizer.ok()) problems += std::string(authorizer.status().message()) + "\n";
  if (!problems.empty()) {
    problems.pop_back();
    return absl::InvalidArgumentError(problems);
  }
  if (config_.auth.disconnect_revoked) {
    // Read from the new contexts' stores before any worker handshakes with them.
    std::vector<std::shared_ptr<const tls::CertificateRecheck>> checks;
    const std::time_t now = std::time(nullptr);
    for (const tls::SslCtxPtr& context : contexts->listeners) {
      checks.push_back(tls::CertificateRecheck::For(context, now));
    }
    for (auto& worker : workers_) worker->RecheckCertificates(checks);
  }
  for (auto& worker : workers_) worker->SetTlsContexts(contexts->listeners);
  upstream_health_->SetTlsContexts(contexts->upstream_servers);
  metrics_tls_ = contexts->metrics;
  if (metrics_server_ != nullptr) metrics_server_->SetTlsContext(metrics_tls_);
  ++policy_version_;
  for (auto& worker : workers_) worker->SetAuthorizer(*authorizer);
  if (auth_.credentials) {
    auth_.credentials->Install(*passwords);
    if (config_.auth.disconnect_revoked) {
      for (auto& worker : workers_) worker->RevokeChanged(*passwords);
    }
  }
  // Live token sessions keep going until their exp; only new logins see the new keys.
  if (auth_.tokens) auth_.tokens->Install(*token_keys);
  return absl::OkStatus();
}

void Server::Wait() {
  for (auto& worker : workers_) worker->Join();
  // The probes stop once no worker can ask about a server any more.
  if (upstream_health_) upstream_health_->Stop();
}

}  // namespace moat::proxy
