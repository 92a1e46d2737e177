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
struct WorkerConfig;
struct LiveConfig;

struct AuthServices;

class Server {
 public:
  Server(std::shared_ptr<const config::Config> config,
         std::shared_ptr<const policy::Authorizer> authorizer, AuthServices& auth,
         metrics::MetricsRegistry& metrics);
  ~Server();

  // Builds TLS contexts and binds every listener; nothing is accepted until Start().
  absl::Status Init();
  void Start();
  // Asks every worker to drain; returns at once. Wait() returns once all have finished.
  void Stop();
  void Wait();
  // SIGHUP: `loaded` (moat.yaml read again) and the password file, policy and TLS files it
  // names come into force together, or, if any is broken or `loaded` changes what cannot
  // change while moat runs (config/fixed_settings.h), none does (the status says where)
  // and the running config stays whole. New connections come in under the new config;
  // live sessions keep theirs, but the policy (policy.mode included) applies to them at
  // once. Listeners `loaded` adds start accepting, removed ones stop; their sessions go
  // on. With auth.disconnect_revoked, live sessions the new files no longer vouch for
  // end: a removed or changed password entry, a client certificate the new CA file and
  // CRLs refuse, a certificate identity the new policy no longer names.
  absl::Status Reload(std::shared_ptr<const config::Config> loaded);
  // The config in force. Only for the thread that calls Reload().
  const std::shared_ptr<const config::Config>& config() const { return config_; }
  // Counts successful loads of the policy, the first included.
  uint64_t policy_version() const { return policy_version_; }
  // The metrics endpoint's TLS context as Init() built it (null without metrics.tls).
  const tls::SslCtxPtr& metrics_tls() const { return metrics_tls_; }
  // Reload() hands `server` the new metrics TLS context along with the listeners' own,
  // so its certificate changes with theirs or not at all. Call before any Reload().
  void SetMetricsServer(metrics::MetricsServer* server) { metrics_server_ = server; }
  // For the admin API (proxy/admin/session_control.h).
  std::vector<Worker*> workers() const {
    std::vector<Worker*> list;
    for (const auto& worker : workers_) list.push_back(worker.get());
    return list;
  }

 private:
  // Per worker, for `config` and its TLS contexts: acceptors bound for the listeners a
  // worker does not listen on yet, and the LiveConfig they share (also put in `live`).
  // Problems (one per line) are added to `problems`.
  std::vector<WorkerConfig> MakeWorkerConfigs(const std::shared_ptr<const config::Config>& config,
                                              const tls::TlsContexts& contexts,
                                              std::string& problems,
                                              std::shared_ptr<const LiveConfig>& live);

  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const policy::Authorizer> authorizer_;
  AuthServices& auth_;
  metrics::MetricsRegistry& metrics_;
  uint64_t policy_version_ = 1;
  tls::SslCtxPtr metrics_tls_;
  metrics::MetricsServer* metrics_server_ = nullptr;
  ConnectionGate gate_;    // limits.max_connections and the per-address limits, for all workers
  PreauthMemory preauth_;  // limits.max_preauth_memory, for all workers
  // The newest, whose upstream health the next reload may keep; the workers (declared
  // after, so gone first) and their sessions hold it too.
  std::shared_ptr<const LiveConfig> live_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace moat::proxy
