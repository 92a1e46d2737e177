// The running proxy: one worker thread per core, each with its own io_context, its own
// SO_REUSEPORT acceptor on every listener and its own sessions, so connections never
// cross threads and the hot path shares nothing but the immutable config and policy.
//
//   main thread: signals ──► Server::Stop() ──► each worker: stop accepting,
//                                               drain sessions (DISCONNECT 0x8B),
//                                               abort what is left after drain_timeout
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "policy/authorizer.h"
#include "proxy/config/config.h"
#include "proxy/connection_gate.h"
#include "proxy/session/preauth_memory.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {

class Worker;
class UpstreamHealth;
class UpstreamPool;

struct AuthServices;

class Server {
 public:
  Server(const config::Config& config, std::shared_ptr<const policy::Authorizer> authorizer,
         AuthServices& auth, metrics::MetricsRegistry& metrics);
  ~Server();

  // Builds TLS contexts and binds every listener; nothing is accepted until Start().
  absl::Status Init();
  void Start();
  // Asks every worker to drain; returns at once. Wait() returns once all have finished.
  void Stop();
  void Wait();
  // SIGHUP: reloads the password file, the policy and the TLS files; if any is broken all
  // are refused (the status says where) and the old ones stay in force. With
  // auth.disconnect_revoked, live sessions they no longer vouch for end: a removed or
  // changed password entry, a client certificate the new CA file and CRLs refuse, a
  // certificate identity the new policy no longer names.
  absl::Status Reload();
  // Counts successful loads of the policy, the first included.
  uint64_t policy_version() const { return policy_version_; }
  // The metrics endpoint's TLS context as Init() built it (null without metrics.tls).
  const tls::SslCtxPtr& metrics_tls() const { return metrics_tls_; }
  // Reload() hands `server` the new metrics TLS context along with the listeners' own,
  // so its certificate changes with theirs or not at all. Call before any Reload().
  void SetMetricsServer(metrics::MetricsServer* server) { metrics_server_ = server; }
  // The upstream servers' state, for /readyz; valid after Init().
  const UpstreamHealth& upstream_health() const { return *upstream_health_; }
  // For the admin API (proxy/admin/session_control.h).
  std::vector<Worker*> workers() const {
    std::vector<Worker*> list;
    for (const auto& worker : workers_) list.push_back(worker.get());
    return list;
  }

 private:
  const config::Config& config_;
  std::shared_ptr<const policy::Authorizer> authorizer_;
  AuthServices& auth_;
  metrics::MetricsRegistry& metrics_;
  uint64_t policy_version_ = 1;
  tls::SslCtxPtr metrics_tls_;
  metrics::MetricsServer* metrics_server_ = nullptr;
  ConnectionGate gate_;    // limits.max_connections and the per-address limits, for all workers
  PreauthMemory preauth_;  // limits.max_preauth_memory, for all workers
  // The upstream servers, shared by all workers; probed on the health's own thread.
  std::unique_ptr<UpstreamHealth> upstream_health_;
  std::unique_ptr<UpstreamPool> upstream_pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace moat::proxy
