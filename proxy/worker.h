// One thread's share of the proxy: an io_context, an acceptor per listener, and the
// sessions accepted on them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "metrics/registry.h"
#include "policy/authorizer.h"
#include "policy/credentials/password_file.h"
#include "proxy/config/config.h"
#include "proxy/connection_gate.h"
#include "proxy/connection_setup.h"
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
  const config::Listener* listener;
  tls::SslCtxPtr tls_context;  // null for plain TCP
  metrics::ListenerId id{0};   // its index in the config, as metrics know it
};

class Worker final : public SessionOwner {
 public:
  Worker(const config::Config& config, std::shared_ptr<const policy::Authorizer> authorizer,
         AuthServices& auth, ConnectionGate& gate, PreauthMemory& preauth,
         metrics::ThreadCounters& counters, std::vector<ListenerSetup> listeners,
         const Upstream& upstream);
  ~Worker();

  absl::Status Bind();
  void Start();
  void Stop();  // thread-safe
  // Thread-safe: ends the sessions the reloaded password file no longer vouches for.
  void RevokeChanged(std::shared_ptr<const policy::PasswordFile> file);
  // Thread-safe: new connections and live sessions use `authorizer` from now on.
  void SetAuthorizer(std::shared_ptr<const policy::Authorizer> authorizer);
  // Thread-safe: new handshakes use these; live connections keep theirs.
  void SetTlsContexts(std::vector<tls::SslCtxPtr> listeners);
  // Thread-safe: ends the sessions whose client certificate the listener's new CA file and
  // CRLs refuse; `checks` as the config's listeners, null where none is needed.
  void RecheckCertificates(std::vector<std::shared_ptr<const tls::CertificateRecheck>> checks);
  void Join();
  // Thread-safe, for the admin API: `done` is called on this worker's thread with every
  // admitted session, or with how many sessions `match` selected and were ended.
  void CollectSessions(std::function<void(std::vector<SessionSnapshot>)> done);
  void EndSessions(std::function<bool(const policy::ClientIdentity&)> match,
                   std::function<void(size_t)> done);

  void SessionFinished(Session* session) override;

 private:
  boost::asio::awaitable<void> AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor,
                                          const ListenerSetup& setup);
  // From a socket that passed the gate to a session (connection_setup.h), for the
  // listener at `listener` in listeners_.
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket,
                                     ConnectionGate::Ticket ticket, std::string address,
                                     size_t listener);
  boost::asio::awaitable<void> Drain();

  const config::Config& config_;
  AuthServices& auth_;
  ConnectionGate& gate_;
  boost::asio::io_context io_context_{1};
  std::vector<ListenerSetup> listeners_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  const Upstream& upstream_;  // the Server's pool, shared by every worker
  metrics::ThreadCounters& counters_;
  uint64_t open_connections_ = 0;  // this thread's, for the trimmer; the cap is the gate's
  BurstTrimmer trimmer_;
  ShortReadSweep short_read_sweep_{io_context_.get_executor()};
  PreauthQueue preauth_;
  WriteStallWatch write_stalls_{io_context_.get_executor(), SteadyClock()};
  // One of each per listener, as listeners_.
  std::vector<SessionEnvironment> session_environments_;
  std::vector<ConnectionSetupContext> setup_contexts_;
  std::shared_ptr<const policy::Authorizer> authorizer_;
  std::unordered_set<Session*> sessions_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace moat::proxy
