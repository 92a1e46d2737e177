// From an accepted client stream to an admitted session, or a refusal:
//
//   client ─► ReceiveConnect ─► Authenticate ─► AuthorizeConnect, Will ─► upstream ─► CONNECT
//               │ (connect_timeout) │ (hash pool, bans)  │ (policy)          │ Connect() forwarded
//               ▼                   ▼                    ▼                   ▼
//           malformed / timeout   CONNACK 4/5,        CONNACK 5 / 0x87    CONNACK 3 / 0x88
//           (no answer)           0x86/0x87/0x8A...
//
// A coroutine, since hashing a password and connecting upstream are waits; once it has
// returned an AdmittedLink, the session moves to the Relay, which runs on callbacks.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "policy/auth/authenticator.h"
#include "policy/authorizer.h"
#include "proxy/config/config.h"
#include "proxy/enforcer.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/net/byte_stream.h"
#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/session/end_reason.h"
#include "proxy/session/keep_alive.h"
#include "proxy/session/preauth_memory.h"
#include "proxy/session/session_report.h"

namespace moat::proxy {

struct AuthServices;
class Upstream;

// What admission asks; shared by the sessions of one thread.
struct AdmissionServices {
  const config::Config& config;
  // The thread's policy in force, read at the moment of each decision.
  const std::shared_ptr<const policy::Authorizer>& authorizer;
  const Upstream& upstream;
  AuthServices& auth;
  const Clock& clock;
  PreauthQueue& preauth;  // this thread's admissions, under limits.max_preauth_memory
  // The login rules and moat's upstream password of the config the client came in under.
  const policy::Authenticator& authenticator;
  const std::string& upstream_password;
};

// A client that may go on, and what the relay needs to carry it.
struct AdmittedLink {
  std::unique_ptr<net::ByteStream> broker;  // the CONNECT is already on its way there
  Enforcer enforcer;
  mqtt::ProtocolVersion version;
  KeepAlive keep_alive;
  // Which password file entry vouched for the client: a reload that changes it ends
  // the session. nullopt when no password was checked.
  std::optional<std::string> credential_fingerprint;
  // When the bearer token the client logged in with expires (seconds since the epoch):
  // the session ends then. nullopt: no token.
  std::optional<int64_t> token_expires_at;
  // The client id is claimed in AuthServices::client_ids: release it when the session ends.
  bool client_id_claimed = false;
};

// Why a client did not get in; it has had its CONNACK where it gets one.
struct Refusal {
  EndReason reason;
  std::string detail;  // for the session's log line
};

using AdmissionResult = std::variant<AdmittedLink, Refusal>;

class Admission final : private PreauthQueue::Member {
 public:
  // Fills in `identity` (user, client id, certificate identity) as it learns them.
  // `client_decoder` keeps whatever the client sent after its CONNECT, for the relay.
  // `deadline`: when the client must have sent its CONNECT and proved who it is.
  // `endpoints`: the client's, for a PROXY header to the broker (OpenedClient).
  Admission(net::ByteStream& client, mqtt::Decoder& client_decoder,
            policy::ClientIdentity& identity, const AdmissionServices& services,
            SessionReport& report, SteadyTime deadline,
            const proxy_protocol::ProxiedAddresses* endpoints = nullptr);

  boost::asio::awaitable<AdmissionResult> Run();

  // Server shutdown: closes both links, so Run() ends with kShutdown.
  void Abort();

 private:
  // Over limits.max_preauth_memory: closes the client, so Run() ends with kPreauthMemory.
  void Evict() override;
  // A malformed CONNECT, a login deadline missed: what only a misbehaving client does
  // counts towards its address's ban like a failed login.
  void RecordMisbehaviour();
  // Takes the client id for this identity (ClientIds); false when another one holds it.
  bool ClaimClientId(const mqtt::Connect& connect);
  boost::asio::awaitable<AdmissionResult> Admit();
  // The first packet, within limits.connect_timeout: a CONNECT (the decoder refuses
  // anything else first), or why not. A struct, not a bare variant: asio's `||` would
  // merge a variant's alternatives into its own result.
  struct FirstPacket {
    std::variant<mqtt::Frame, Refusal> received;
  };
  boost::asio::awaitable<FirstPacket> ReceiveConnect();
  boost::asio::awaitable<FirstPacket> ReadFirstPacket();
  // Decides who the client is; kNone when it may go on.
  boost::asio::awaitable<policy::AuthFailure> Authenticate(const mqtt::Connect& connect);
  // The CONNECT password as a bearer token (on the AuthPool); on success the token names
  // the client and its groups.
  boost::asio::awaitable<policy::AuthFailure> CheckToken(const mqtt::Connect& connect,
                                                         const policy::AuthPlan& plan);
  boost::asio::awaitable<Refusal> RefuseLogin(policy::AuthFailure failure);
  // The CONNECT itself and its Will, which the broker would publish for the client later.
  policy::Decision AuthorizeConnect(const mqtt::Connect& connect);
  // Opens the upstream link into broker_ and hands it the CONNECT, retrying while no
  // server answers for up to upstream.unavailable_wait (never past the login deadline);
  // false (counted, audited) when none did.
  boost::asio::awaitable<bool> ConnectUpstream(const mqtt::Frame& frame);
  // Retries until a broker answers or the wait is over; the error of the last attempt.
  boost::asio::awaitable<boost::system::error_code> HoldForBroker(const mqtt::Frame& frame);
  // One attempt: a link, the CONNECT on it, and the broker's answer in time.
  boost::asio::awaitable<boost::system::error_code> TryBroker(const mqtt::Frame& frame);
  boost::asio::awaitable<void> ForwardConnect(const mqtt::Frame& frame);
  // How the client got in, for its session_admitted line.
  AdmittedClient HowAdmitted() const;
  // The CONNACK that refuses the client, in its protocol version.
  boost::asio::awaitable<void> Answer(mqtt::ReasonCode v5_reason,
                                      mqtt::ConnectReturnCode v311_code);

  net::ByteStream& client_;
  mqtt::Decoder& client_decoder_;
  policy::ClientIdentity& identity_;
  const proxy_protocol::ProxiedAddresses* const endpoints_;
  const AdmissionServices& services_;
  SessionReport& report_;
  const SteadyTime deadline_;
  mqtt::ProtocolVersion version_ = mqtt::ProtocolVersion::kUnknown;
  std::unique_ptr<net::ByteStream> broker_;
  std::optional<std::string> credential_fingerprint_;
  std::optional<int64_t> token_expires_at_;
  policy::AuthMethod auth_method_ = policy::AuthMethod::kAnonymous;
  std::string upstream_error_;
  bool aborted_ = false;
  bool evicted_ = false;
  bool client_id_claimed_ = false;
};

}  // namespace moat::proxy
