// One thread's share of the proxy: an io_context, an acceptor per listener, and the
// sessions accepted on them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "metrics/registry.h"
#include "policy/authorizer.h"
#include "policy/credentials/password_file.h"
#include "proxy/config/config.h"
#include "proxy/connection_gate.h"
#include "proxy/connection_setup.h"
#include "proxy/live_config.h"
#include "proxy/memory_trim.h"
#include "proxy/net/byte_stream.h"
#include "proxy/session/session.h"
#include "proxy/tls/certificate_recheck.h"
#include "proxy/tls/tls_context.h"
#include "proxy/upstream.h"

namespace moat::proxy {

struct AuthServices;

// What a worker needs per listener: its config and, for TLS, its context.
struct ListenerSetup {
  const config::Listener* listener;  // points into the LiveConfig it comes with
  tls::SslCtxPtr tls_context;        // null for plain TCP
  metrics::ListenerId id{0};         // as metrics know it (MetricsRegistry::AddListener)
};

// A reload's config for one worker: the listeners of `live` and, for those whose bind
// address is new, acceptors already bound on the worker's io_context (Worker::BindNew), so
// a reload whose new address is taken fails before anything changes.
struct WorkerConfig {
  std::shared_ptr<const LiveConfig> live;
  std::vector<ListenerSetup> listeners;  // in live->config->listeners order
  // By listener name; a listener not in here keeps its acceptor (same name, same bind).
  std::unordered_map<std::string, std::unique_ptr<boost::asio::ip::tcp::acceptor>> bound;
};

class Worker final : public SessionOwner {
 public:
  Worker(std::shared_ptr<const policy::Authorizer> authorizer, AuthServices& auth,
         ConnectionGate& gate, PreauthMemory& preauth, metrics::ThreadCounters& counters);
  ~Worker();

  // Acceptors on this worker's io_context for the listeners of `config` that it does not
  // listen on yet (all of them before Start()), bound and listening, into `config.bound`.
  // Thread-safe (the io_context may run). Fails naming the listener.
  absl::Status BindNew(WorkerConfig& config);
  // Before Start(), or thread-safe after: new connections come in under `config` from now
  // on; listeners it no longer names stop accepting, new ones start; live sessions keep
  // the config they came in under.
  // Call from one thread (the one that reloads), as BindNew().
  void Reconfigure(WorkerConfig config);
  void Start();
  void Stop();  // thread-safe
  // Thread-safe: ends the sessions the reloaded password file no longer vouches for.
  void RevokeChanged(std::shared_ptr<const policy::PasswordFile> file);
  // Thread-safe: new connections and live sessions use `authorizer` from now on.
  // `revoke`: auth.disconnect_revoked of the config in force.
  void SetAuthorizer(std::shared_ptr<const policy::Authorizer> authorizer, bool revoke);
  // Thread-safe: ends the sessions whose client certificate the listener's new CA file and
  // CRLs refuse; `checks` indexed by metrics::ListenerId, null where none is needed.
  void RecheckCertificates(std::vector<std::shared_ptr<const tls::CertificateRecheck>> checks);
  void Join();
  // Thread-safe, for the admin API: `done` is called on this worker's thread with every
  // admitted session, or with how many sessions `match` selected and were ended.
  void CollectSessions(std::function<void(std::vector<SessionSnapshot>)> done);
  void EndSessions(std::function<bool(const policy::ClientIdentity&)> match,
                   std::function<void(size_t)> done);

  void SessionFinished(Session* session) override;

 private:
  // What connections accepted on one listener come in under; replaced, never changed, by
  // a reload, and kept alive by every connection and session that uses it.
  struct ListenerRuntime {
    ListenerRuntime(Worker& worker, std::shared_ptr<const LiveConfig> live, ListenerSetup setup);
    ListenerRuntime(const ListenerRuntime&) = delete;
    ListenerRuntime& operator=(const ListenerRuntime&) = delete;

    const std::shared_ptr<const LiveConfig> live;
    const ListenerSetup setup;
    const ConnectionSetupContext setup_context;  // these two refer to the fields above
    const SessionEnvironment session_environment;
  };
  // One open listener: its acceptor and what it accepts under now.
  struct Listening {
    std::string name;
    config::Endpoint bind;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
    std::shared_ptr<const ListenerRuntime> runtime;
  };

  void ApplyConfig(WorkerConfig config);
  boost::asio::awaitable<void> AcceptLoop(std::shared_ptr<Listening> listening);
  // From a socket that passed the gate to a session (connection_setup.h).
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket,
                                     ConnectionGate::Ticket ticket, std::string address,
                                     std::shared_ptr<const ListenerRuntime> runtime);
  boost::asio::awaitable<void> Drain();

  // The listeners (name, bind) the last Reconfigure() named: BindNew()'s view, on the
  // thread that reloads, never the worker's listening_.
  std::vector<std::pair<std::string, std::string>> announced_;
  AuthServices& auth_;
  ConnectionGate& gate_;
  boost::asio::io_context io_context_{1};
  std::shared_ptr<const LiveConfig> live_;  // the newest
  std::vector<std::shared_ptr<Listening>> listening_;
  metrics::ThreadCounters& counters_;
  uint64_t open_connections_ = 0;  // this thread's, for the trimmer; the cap is the gate's
  BurstTrimmer trimmer_;
  ShortReadSweep short_read_sweep_{io_context_.get_executor()};
  PreauthQueue preauth_;
  WriteStallWatch write_stalls_{io_context_.get_executor(), SteadyClock()};
  std::shared_ptr<const policy::Authorizer> authorizer_;
  std::unordered_set<Session*> sessions_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace moat::proxy
