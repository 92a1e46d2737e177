#include "proxy/server.h"

#include <string>
#include <thread>

#include "proxy/auth/auth_services.h"
#include "proxy/worker.h"

namespace moat::proxy {

Server::Server(const config::Config& config, std::shared_ptr<const policy::Authorizer> authorizer,
               AuthServices& auth)
    : config_(config), authorizer_(std::move(authorizer)), auth_(auth) {}

Server::~Server() {
  Stop();
  Wait();
}

absl::Status Server::Init() {
  std::vector<ListenerSetup> listeners;
  for (const config::Listener& listener : config_.listeners) {
    ListenerSetup setup{&listener, nullptr};
    if (listener.tls) {
      auto ctx = tls::MakeServerContext(*listener.tls);
      if (!ctx.ok()) {
        return absl::InvalidArgumentError("listener " + listener.name + ": " +
                                          std::string(ctx.status().message()));
      }
      setup.tls_context = *ctx;
    }
    listeners.push_back(std::move(setup));
  }
  tls::SslCtxPtr upstream_tls;
  if (config_.upstream.tls) {
    auto ctx = tls::MakeClientContext(*config_.upstream.tls);
    if (!ctx.ok()) {
      return absl::InvalidArgumentError("upstream: " + std::string(ctx.status().message()));
    }
    upstream_tls = *ctx;
  }
  const int threads = config_.threads > 0
                          ? config_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>(config_, authorizer_, auth_, listeners, upstream_tls);
    if (auto status = worker->Bind(); !status.ok()) return status;
    workers_.push_back(std::move(worker));
  }
  return absl::OkStatus();
}

void Server::Start() {
  for (auto& worker : workers_) worker->Start();
}

void Server::Stop() {
  for (auto& worker : workers_) worker->Stop();
}

absl::Status Server::Reload() {
  if (!auth_.credentials) return absl::OkStatus();
  if (auto status = auth_.credentials->Load(); !status.ok()) return status;
  if (config_.auth.disconnect_revoked) {
    for (auto& worker : workers_) worker->RevokeChanged(auth_.credentials->file());
  }
  return absl::OkStatus();
}

void Server::Wait() {
  for (auto& worker : workers_) worker->Join();
}

}  // namespace moat::proxy
