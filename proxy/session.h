// One client connection and its upstream link.
//
//   client ──► ReceiveConnect ──► authorize ──► connect upstream ──► forward CONNECT
//                                                                         │
//          ┌──── Forward(client to broker) ◄── client decoder ◄──────────┤
//          │     Forward(broker to client) ◄── broker decoder            │
//          │                 Watchdog (keep-alive, drain)                 │
//          └─► the first of the three to finish, for any reason, ends the session
//
// Every packet in both directions goes through the codec and the authorizer; allowed
// packets are forwarded as the bytes that arrived, a batch per read. A session never
// reads more from one side while its write to the other is pending, so its memory is
// bounded by one read chunk plus one packet of at most limits.max_packet_size.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "policy/auth/authenticator.h"
#include "policy/authorizer.h"
#include "policy/credentials/password_file.h"
#include "proxy/audit_log.h"
#include "proxy/config/config.h"
#include "proxy/enforcer.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/net/byte_stream.h"
#include "proxy/write_gate.h"

namespace moat::proxy {

class UpstreamConnector;
struct AuthServices;

// What a session shares with the others on its thread.
struct SessionEnvironment {
  const config::Config& config;
  // The worker's current policy: swapped (on this thread) by a reload, so every decision
  // uses the policy in force at that moment.
  const std::shared_ptr<const policy::Authorizer>& authorizer;
  const UpstreamConnector& upstream;
  metrics::ThreadCounters& counters;  // this thread's: no lock, no atomic RMW
  metrics::ListenerId listener;
  AuthServices& auth;
};

// Why a session ended; logged once, when it closes.
enum class EndReason : uint8_t {
  kClientDisconnected,  // DISCONNECT from the client
  kClientClosed,        // the client vanished without DISCONNECT
  kBrokerClosed,
  kConnectTimeout,
  kKeepAliveTimeout,
  kMalformedFromClient,
  kMalformedFromBroker,
  kUpstreamUnavailable,
  kRefused,
  kRevoked,  // the password file no longer vouches for the client
  kShutdown,
  kIoError,
};
std::string_view EndReasonName(EndReason reason);

class Session {
 public:
  Session(std::unique_ptr<net::ByteStream> client, policy::ClientIdentity identity,
          const SessionEnvironment& env, const boost::asio::any_io_executor& executor);
  ~Session();

  boost::asio::awaitable<void> Run();
  // Server shutdown: MQTT 5 clients get DISCONNECT 0x8B, then the session ends.
  void RequestDrain();
  // Ends the session at once, e.g. when the drain timeout has passed.
  void Abort();
  // After a password file reload: a session whose user was removed or whose password
  // changed ends now (MQTT 5: DISCONNECT 0x87), not when the client reconnects.
  void RevokeIfChanged(const policy::PasswordFile& file);
  // After a policy reload: subscriptions no longer granted are removed at the broker.
  void PolicyChanged();

 private:
  boost::asio::awaitable<std::optional<mqtt::Frame>> ReceiveConnect();
  boost::asio::awaitable<std::optional<mqtt::Frame>> ReadFirstPacket();
  // Authorizes the CONNECT, opens the upstream link and forwards the CONNECT.
  boost::asio::awaitable<bool> Admit(const mqtt::Frame& connect);
  // Decides who the client is; kNone when it may go on.
  boost::asio::awaitable<policy::AuthFailure> Authenticate(const mqtt::Connect& connect);
  boost::asio::awaitable<void> ForwardConnect(const mqtt::Frame& frame);
  struct Drained;
  // Decode and judge every complete packet buffered from one side; no suspension.
  void DrainClient(Drained& out);
  template <typename Decide>
  Outcome Judge(Decide decide);
  void DrainBroker(Drained& out);
  boost::asio::awaitable<void> Pump(std::string& error);
  // One direction's loop: drain what was read, answer, forward, read again.
  boost::asio::awaitable<void> Forward(mqtt::Direction direction);
  boost::asio::awaitable<void> Watchdog();
  boost::asio::awaitable<void> WriteTo(WriteGate& gate, net::ByteStream& stream,
                                       std::span<const boost::asio::const_buffer> buffers);
  boost::asio::awaitable<void> WriteBytes(WriteGate& gate, net::ByteStream& stream,
                                          const std::vector<uint8_t>& bytes);
  void RecordDenials(const std::vector<Denial>& denials);
  void CountConnect(metrics::ConnectResult result);
  // Fills in who the client is and writes `event` to the audit log, if there is one.
  void Audit(AuditEvent event) const;
  void CountAuthFailure(policy::AuthFailure failure);
  void CountMalformed(mqtt::Direction direction, mqtt::DecodeError error);
  boost::asio::awaitable<void> SendToClient(const mqtt::Packet& packet);
  boost::asio::awaitable<void> RefuseConnect(mqtt::ReasonCode v5_reason,
                                             mqtt::ConnectReturnCode v311_code);
  boost::asio::awaitable<void> DisconnectClient(mqtt::ReasonCode reason);
  void End(EndReason reason);
  void ClientActive() { last_client_packet_ = std::chrono::steady_clock::now(); }

  std::unique_ptr<net::ByteStream> client_;
  std::unique_ptr<net::ByteStream> broker_;
  policy::ClientIdentity identity_;
  const SessionEnvironment& env_;
  mqtt::Decoder client_decoder_;
  mqtt::Decoder broker_decoder_;
  mqtt::ProtocolVersion version_ = mqtt::ProtocolVersion::kUnknown;
  std::chrono::milliseconds keep_alive_{0};
  std::chrono::steady_clock::time_point last_client_packet_;
  boost::asio::steady_timer watchdog_timer_;
  WriteGate client_gate_;
  WriteGate broker_gate_;
  bool pumping_ = false;  // past CONNECT: both directions are being forwarded
  bool draining_ = false;
  bool revoked_ = false;
  bool policy_changed_ = false;
  uint32_t decisions_ = 0;                             // for sampling the decision latency
  std::optional<Enforcer> enforcer_;                   // from CONNECT on
  std::optional<std::string> credential_fingerprint_;  // set when a password was checked
  bool aborted_ = false;
  bool ended_ = false;
  std::string_view malformed_;
  std::string_view refusal_;  // why authentication refused the client  // which decode error ended
                              // the session, if one did
  std::string upstream_error_;
  EndReason end_reason_ = EndReason::kIoError;
};

}  // namespace moat::proxy
