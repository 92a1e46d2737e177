// One client connection and its upstream link, from CONNECT to close:
//
//   Start(): Admission (coroutine) ──AdmittedLink──► Relay (callbacks) ──► RelayEnded
//                  │ Refusal                                                   │
//                  └──────────────► log the end, hand back to the owner ◄──────┘
//
// The session owns what both phases share: the two streams and who the client is. The
// worker reaches the session through the four calls below, whatever phase it is in.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/system_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "metrics/registry.h"
#include "policy/authorizer.h"
#include "policy/credentials/password_file.h"
#include "proxy/config/config.h"
#include "proxy/connection_setup.h"
#include "proxy/live_config.h"
#include "proxy/net/byte_stream.h"
#include "proxy/session/preauth_memory.h"
#include "proxy/session/relay.h"
#include "proxy/session/session_report.h"
#include "proxy/session/session_snapshot.h"

namespace moat::tls {
class CertificateRecheck;
}

namespace moat::proxy {

class Admission;
class Upstream;
struct AuthServices;
class Session;

// Told when a session is over and nothing of it is pending any longer; deletes it.
class SessionOwner {
 public:
  virtual void SessionFinished(Session* session) = 0;

 protected:
  ~SessionOwner() = default;
};

// What the sessions of one listener on one thread share; the worker keeps it for as long
// as they live, so a session holds only a reference.
struct SessionEnvironment {
  const LiveConfig& live;             // what the session came in under ...
  const config::Config& config;       // ... *live.config
  const Upstream& upstream;           // ... *live.upstream
  metrics::ThreadCounters& counters;  // this thread's: no lock, no atomic RMW
  metrics::ListenerId listener;
  AuthServices& auth;
  SessionOwner& owner;
  PreauthQueue& preauth;                  // the thread's admissions
  boost::asio::any_io_executor executor;  // the thread's
  // The policy (swapped on this thread by a reload, so every decision uses the one in
  // force at that moment), the clock and the thread's ShortReadSweep.
  RelayEnvironment relay;
};

class Session final : private RelayOwner {
 public:
  // `env_owner` keeps `env` (and the config it points into) alive while the session runs,
  // whatever reloads replace it for new sessions.
  Session(OpenedClient client, const SessionEnvironment& env,
          std::shared_ptr<const void> env_owner);
  ~Session();

  // Admission, then the relay; returns once the relay runs (or the client was refused).
  // The login deadline runs from `accepted`.
  boost::asio::awaitable<void> Start(SteadyTime accepted);
  // Server shutdown: MQTT 5 clients get DISCONNECT 0x8B, then the session ends.
  void RequestDrain();
  // Ends the session at once, e.g. when the drain timeout has passed.
  void Abort();
  // After a password file reload: a session whose user was removed or whose password
  // changed ends now (MQTT 5: DISCONNECT 0x87), not when the client reconnects.
  void RevokeIfChanged(const policy::PasswordFile& file);
  // After a TLS reload: a session whose client certificate the listener's new CA file and
  // CRLs refuse (revoked, above all) ends now (MQTT 5: DISCONNECT 0x87).
  void RevokeIfCertificateRefused(const tls::CertificateRecheck& check);
  // After a policy reload (`previous` was in force before): a certificate identity that
  // `previous` named and the new policy does not (Authorizer::NamesIdentity) ends now, with
  // `revoke` (auth.disconnect_revoked); else subscriptions no longer granted are removed
  // at the broker, and the client's rates are what the new policy says.
  void PolicyChanged(const policy::Authorizer& previous, bool revoke,
                     config::DeniedPublish on_denied_publish);
  // The listener it was accepted on.
  metrics::ListenerId listener() const { return env_.listener; }
  // The admin API (on this session's thread): what it lists once the session is admitted
  // (session_snapshot.cc), and ending it by a kick or a ban that covers it (MQTT 5:
  // DISCONNECT 0x98 Administrative action).
  std::optional<SessionSnapshot> Snapshot() const;
  void EndByAdmin();
  const policy::ClientIdentity& identity() const { return identity_; }

 private:
  // The client's rates under the policy in force, to the relay.
  void SetRates();
  // Arms token_expiry_ for `expires_at` (seconds since the epoch).
  void EndAtTokenExpiry(int64_t expires_at);
  void RelayEnded(EndReason reason, std::string_view detail) override;
  // Logs the end and hands the session back to its owner, posted.
  void Finish(EndReason reason, std::string_view detail);

  const std::shared_ptr<const void> env_owner_;  // first in, last out
  std::unique_ptr<net::ByteStream> client_;
  std::unique_ptr<net::ByteStream> broker_;
  policy::ClientIdentity identity_;
  const proxy_protocol::ProxiedAddresses endpoints_;  // for a PROXY header to the broker
  ConnectionGate::Ticket ticket_;                     // this connection's place under the limits
  const SessionEnvironment& env_;
  SessionReport report_;
  Admission* admission_ = nullptr;  // while Start() admits
  std::optional<Relay> relay_;      // once admitted
  std::optional<std::string> credential_fingerprint_;
  // Ends a session at its bearer token's exp: the token's lifetime is the session's.
  std::optional<boost::asio::system_timer> token_expiry_;
  bool draining_ = false;           // the server is shutting down
  bool client_id_claimed_ = false;  // released in AuthServices::client_ids at the end
};

}  // namespace moat::proxy
