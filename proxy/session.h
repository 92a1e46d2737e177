// One client connection and its upstream link.
//
//   client ──► ReceiveConnect ──► authorize ──► connect upstream ──► forward CONNECT
//                        (a coroutine: Start)                             │
//          ┌──── relay: client decoder ──► Enforcer ──► broker outbox ◄──┤
//          │            broker decoder ──► Enforcer ──► client outbox     │
//          │            watchdog timer (keep-alive)                       │
//          └─► any end, error or close on either side ends the session ◄─┘
//
// Every packet in both directions goes through the codec and the authorizer; allowed
// packets are forwarded as the bytes that arrived. Once admitted, a session is driven
// by readiness callbacks rather than coroutines, so an idle one is just the Session
// object and two pending socket waits. A direction never reads again while its output
// is still being written, so a session's memory is bounded by one read chunk plus one
// packet of at most limits.max_packet_size per direction.
#pragma once

#include <array>
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
#include "proxy/outbox.h"

namespace moat::proxy {

class UpstreamConnector;
struct AuthServices;
class Session;

// Told when a session is over and nothing of it is pending any longer; deletes it.
class SessionOwner {
 public:
  virtual void SessionFinished(Session* session) = 0;

 protected:
  ~SessionOwner() = default;
};

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
  SessionOwner& owner;
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

class Session final : public net::ReadyListener {
 public:
  Session(std::unique_ptr<net::ByteStream> client, policy::ClientIdentity identity,
          const SessionEnvironment& env, const boost::asio::any_io_executor& executor);
  ~Session();

  // CONNECT, authentication and the upstream link; then hands over to the relay and
  // returns. The owner is told (SessionFinished) when the session is over.
  boost::asio::awaitable<void> Start();
  // Server shutdown: MQTT 5 clients get DISCONNECT 0x8B, then the session ends.
  void RequestDrain();
  // Ends the session at once, e.g. when the drain timeout has passed.
  void Abort();
  // After a password file reload: a session whose user was removed or whose password
  // changed ends now (MQTT 5: DISCONNECT 0x87), not when the client reconnects.
  void RevokeIfChanged(const policy::PasswordFile& file);
  // After a policy reload: subscriptions no longer granted are removed at the broker.
  void PolicyChanged();

  void OnReady(int tag, const boost::system::error_code& error) override;

 private:
  boost::asio::awaitable<std::optional<mqtt::Frame>> ReceiveConnect();
  boost::asio::awaitable<std::optional<mqtt::Frame>> ReadFirstPacket();
  // Authorizes the CONNECT, opens the upstream link and forwards the CONNECT.
  boost::asio::awaitable<bool> Admit(const mqtt::Frame& connect);
  // Decides who the client is; kNone when it may go on.
  boost::asio::awaitable<policy::AuthFailure> Authenticate(const mqtt::Connect& connect);
  boost::asio::awaitable<void> ForwardConnect(const mqtt::Frame& frame);
  boost::asio::awaitable<void> WriteBytes(net::ByteStream& stream,
                                          const std::vector<uint8_t>& bytes);
  boost::asio::awaitable<void> SendToClient(const mqtt::Packet& packet);
  boost::asio::awaitable<void> RefuseConnect(mqtt::ReasonCode v5_reason,
                                             mqtt::ConnectReturnCode v311_code);

  // The relay (session_relay.cc).
  struct Drained;
  // Decode and judge every complete packet buffered from one side; no I/O.
  void DrainClient(Drained& out);
  template <typename Decide>
  Outcome Judge(Decide decide);
  void DrainBroker(Drained& out);
  void StartRelay();
  // Runs the directions that can make progress, a bounded number of rounds.
  void Pump();
  // One round of one direction: judge what was read, queue it, write, read again.
  void Step(size_t direction);
  void FlushOutbox(size_t side);
  void ArmWatchdog();
  void OnWatchdog(const boost::system::error_code& error);
  // Ends the relay: MQTT 5 clients get DISCONNECT `reason` if there is one, queued
  // output is still written (within limits.drain_timeout), then Finish().
  void Stop(EndReason reason, std::optional<mqtt::ReasonCode> disconnect = std::nullopt);
  void Fail(const boost::system::error_code& error);
  // Closes both links as the end reason asks and logs the end, once.
  void Finish();
  // Hands the session back to its owner once nothing of it is pending.
  void ReleaseIfDone();

  void RecordDenials(const std::vector<Denial>& denials);
  void CountConnect(metrics::ConnectResult result);
  // Fills in who the client is and writes `event` to the audit log, if there is one.
  void Audit(AuditEvent event) const;
  void CountAuthFailure(policy::AuthFailure failure);
  void CountMalformed(mqtt::Direction direction, mqtt::DecodeError error);
  void End(EndReason reason);
  void ClientActive() { last_client_packet_ = std::chrono::steady_clock::now(); }

  // Where a direction is: running, waiting for its source to be readable, waiting for
  // its output to be written, or done.
  enum class Flow : uint8_t { kRunnable, kAwaitingRead, kAwaitingWrite, kStopped };
  // Directions are numbered after the side they read from.
  static constexpr size_t kFromClient = 0;
  static constexpr size_t kFromBroker = 1;
  static constexpr size_t kClientSide = 0;
  static constexpr size_t kBrokerSide = 1;
  net::ByteStream& StreamOf(size_t side) { return side == kClientSide ? *client_ : *broker_; }
  mqtt::Decoder& DecoderOf(size_t side) {
    return side == kClientSide ? client_decoder_ : broker_decoder_;
  }
  Outbox& OutboxOf(size_t side) { return side == kClientSide ? client_outbox_ : broker_outbox_; }

  std::unique_ptr<net::ByteStream> client_;
  std::unique_ptr<net::ByteStream> broker_;
  policy::ClientIdentity identity_;
  const SessionEnvironment env_;
  mqtt::Decoder client_decoder_;
  mqtt::Decoder broker_decoder_;
  mqtt::ProtocolVersion version_ = mqtt::ProtocolVersion::kUnknown;
  std::chrono::milliseconds keep_alive_{0};
  std::chrono::steady_clock::time_point last_client_packet_;
  boost::asio::steady_timer watchdog_timer_;
  PendingPieces pending_pieces_{};
  Outbox client_outbox_{pending_pieces_};  // to the client
  Outbox broker_outbox_{pending_pieces_};  // to the broker
  std::array<Flow, 2> flow_{Flow::kStopped, Flow::kStopped};
  std::array<bool, 2> drained_{false, false};  // per direction: its last read was short
  uint32_t pending_waits_ = 0;                 // callbacks still to come; the session lives until 0
  bool relaying_ = false;                      // past CONNECT: both directions are being forwarded
  bool pumping_ = false;   // inside Pump(): callbacks only mark what is runnable
  bool stopping_ = false;  // Stop() called: writing out what is queued
  bool finished_ = false;
  bool released_ = false;
  bool draining_ = false;
  bool aborted_ = false;
  bool ended_ = false;
  uint32_t decisions_ = 0;                             // for sampling the decision latency
  std::optional<Enforcer> enforcer_;                   // from CONNECT on
  std::optional<std::string> credential_fingerprint_;  // set when a password was checked
  std::string_view malformed_;                         // which decode error ended it
  std::string_view refusal_;                           // why authentication refused it
  std::string error_;                                  // the I/O error that ended it
  std::string upstream_error_;
  EndReason end_reason_ = EndReason::kIoError;
};

}  // namespace moat::proxy
