#include "proxy/server.h"

#include <ctime>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "proxy/auth/auth_services.h"
#include "proxy/cpu_budget.h"
#include "proxy/live_config.h"
#include "proxy/log.h"
#include "proxy/make_authorizer.h"
#include "proxy/observability.h"
#include "proxy/source_addresses.h"
#include "proxy/worker.h"

namespace moat::proxy {

Server::Server(std::shared_ptr<const config::Config> config,
               std::shared_ptr<const policy::Authorizer> authorizer, AuthServices& auth,
               metrics::MetricsRegistry& metrics)
    : config_(std::move(config)),
      authorizer_(std::move(authorizer)),
      auth_(auth),
      metrics_(metrics),
      gate_(config_->limits),
      preauth_(config_->limits.max_preauth_memory) {}

Server::~Server() {
  Stop();
  Wait();
}

std::vector<WorkerConfig> Server::MakeWorkerConfigs(
    const std::shared_ptr<const config::Config>& config, const tls::TlsContexts& contexts,
    std::string& problems, std::shared_ptr<const LiveConfig>& made) {
  auto live = MakeLiveConfig(config, contexts, live_.get(), &metrics_);
  if (!live.ok()) {
    problems += std::string(live.status().message()) + "\n";
    return {};
  }
  made = *live;
  std::vector<ListenerSetup> listeners;
  for (size_t i = 0; i < config->listeners.size(); ++i) {
    listeners.push_back({&config->listeners[i], contexts.listeners[i]});
  }
  std::vector<WorkerConfig> configs;
  for (const auto& worker : workers_) {
    WorkerConfig& wc = configs.emplace_back(WorkerConfig{*live, listeners, {}});
    if (auto status = worker->BindNew(wc); !status.ok()) {
      problems += std::string(status.message()) + "\n";
      return {};
    }
  }
  // Named last, so a reload refused for a file or a taken address takes no spare name.
  for (ListenerSetup& setup : listeners) {
    const std::optional<metrics::ListenerId> id = metrics_.AddListener(setup.listener->name);
    if (!id) {
      problems += "listener '" + setup.listener->name + "': the " +
                  std::to_string(kSpareListeners) +
                  " listener names a run may add are used up (restart moat to add it)\n";
      return {};
    }
    setup.id = *id;
  }
  for (WorkerConfig& wc : configs) wc.listeners = listeners;
  return configs;
}

absl::Status Server::Init() {
  auto contexts = tls::MakeTlsContexts(*config_);
  if (!contexts.ok()) return contexts.status();
  if (auto status = CheckSourceAddresses(config_->upstream.source_addresses); !status.ok()) {
    return status;
  }
  metrics_tls_ = contexts->metrics;
  const int threads = DefaultThreads(config_->threads);
  LogInfo(absl::StrCat("workers: ", threads,
                       ", password hashing threads: ", DefaultThreads(config_->auth.hash_threads),
                       "; this process may use ", ProcessCpuBudget().Describe()));
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(
        std::make_unique<Worker>(authorizer_, auth_, gate_, preauth_, metrics_.AddThread()));
  }
  std::string problems;
  std::vector<WorkerConfig> configs = MakeWorkerConfigs(config_, *contexts, problems, live_);
  if (!problems.empty()) {
    problems.pop_back();
    return absl::UnavailableError(problems);
  }
  for (size_t i = 0; i < workers_.size(); ++i) workers_[i]->Reconfigure(std::move(configs[i]));
  return absl::OkStatus();
}

void Server::Start() {
  for (auto& worker : workers_) worker->Start();
}

void Server::Stop() {
  for (auto& worker : workers_) worker->Stop();
}

absl::Status Server::Reload(std::shared_ptr<const config::Config> loaded) {
  // Everything is read and checked first; only if all of it is good does anything
  // change, so a broken file leaves the old state whole.
  std::string problems;
  for (const std::string& change :
       config::FixedSettingChanges(config_->fixed_settings, loaded->fixed_settings, loaded->path)) {
    problems += change + "\n";
  }
  auto contexts = tls::MakeTlsContexts(*loaded);
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
  if (auto status = CheckSourceAddresses(loaded->upstream.source_addresses); !status.ok()) {
    problems += std::string(status.message()) + "\n";
  }
  auto authorizer = MakeAuthorizer(*loaded, policy_version_ + 1);
  if (!authorizer.ok()) problems += std::string(authorizer.status().message()) + "\n";
  std::vector<WorkerConfig> configs;
  std::shared_ptr<const LiveConfig> live;
  if (problems.empty()) configs = MakeWorkerConfigs(loaded, *contexts, problems, live);
  if (!problems.empty()) {
    problems.pop_back();
    return absl::InvalidArgumentError(problems);
  }
  if (live->health == live_->health) live->health->SetTlsContexts(contexts->upstream_servers);
  gate_.SetLimits(loaded->limits);
  preauth_.set_cap(loaded->limits.max_preauth_memory);
  const bool revoke = loaded->auth.disconnect_revoked;
  if (revoke) {
    // Read from the new contexts' stores before any worker handshakes with them; by the
    // listener's metrics id, which is what a session knows.
    std::vector<std::shared_ptr<const tls::CertificateRecheck>> checks;
    const std::time_t now = std::time(nullptr);
    for (size_t i = 0; i < loaded->listeners.size(); ++i) {
      const size_t id = configs.front().listeners[i].id.index;
      if (checks.size() <= id) checks.resize(id + 1);
      checks[id] = tls::CertificateRecheck::For(contexts->listeners[i], now);
    }
    for (auto& worker : workers_) worker->RecheckCertificates(checks);
  }
  for (size_t i = 0; i < workers_.size(); ++i) workers_[i]->Reconfigure(std::move(configs[i]));
  metrics_tls_ = contexts->metrics;
  if (metrics_server_ != nullptr) metrics_server_->SetTlsContext(metrics_tls_);
  ++policy_version_;
  for (auto& worker : workers_) worker->SetAuthorizer(*authorizer, revoke);
  if (auth_.credentials) {
    auth_.credentials->Install(*passwords);
    if (revoke) {
      for (auto& worker : workers_) worker->RevokeChanged(*passwords);
    }
  }
  // Live token sessions keep going until their exp; only new logins see the new keys.
  if (auth_.tokens) auth_.tokens->Install(*token_keys);
  config_ = std::move(loaded);
  live_ = std::move(live);
  return absl::OkStatus();
}

void Server::Wait() {
  for (auto& worker : workers_) worker->Join();
}

}  // namespace moat::proxy
