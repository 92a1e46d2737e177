// The relay of an admitted session: every packet, in both directions, through the codec
// and the Enforcer; allowed ones go on as the bytes that came. Driven by readiness
// callbacks, not coroutines, so an idle session is this object and two pending waits.
//
//   Pump ─► Step(from) ─► Drain(from): decoder.Next() ─► Enforcer::Judge ─► Queue
//              │                                         (onward / answer back)
//              ├─► Flush both outboxes (TryWrite; on EAGAIN wait for writable)
//              └─► TryRead the sender again, only once its output is out
//
// A direction is named after the peer it reads from (mqtt::Direction kClientToServer
// reads the client). Each peer has the decoder of what it sends and the outbox of what
// it is sent. A direction never reads again while pieces it produced are still queued:
// that backpressure bounds what a direction holds to its read buffer (one packet of at
// most limits.max_packet_size in progress, plus one read) and what it queued from that
// buffer (README "Memory one session can hold").
//
// Lifetime: the relay ends once (Stop, Abort or an error), writes out what is queued
// (within limits.drain_timeout), closes both links and tells its owner, posted, once no
// callback of it is pending any longer.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "policy/authorizer.h"
#include "proxy/enforcer.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/net/byte_stream.h"
#include "proxy/outbox.h"
#include "proxy/session/client_rate.h"
#include "proxy/session/end_reason.h"
#include "proxy/session/keep_alive.h"
#include "proxy/session/short_read_sweep.h"
#include "proxy/session/write_stall_watch.h"

namespace moat::proxy {

class SessionReport;

// Told once, posted, when the relay is over and nothing of it is pending.
class RelayOwner {
 public:
  virtual void RelayEnded(EndReason reason, std::string_view detail) = 0;

 protected:
  ~RelayOwner() = default;
};

// What the relays of one thread share.
struct RelayEnvironment {
  // The thread's policy in force, read at the moment of each decision.
  const std::shared_ptr<const policy::Authorizer>& authorizer;
  const Clock& clock;
  std::chrono::milliseconds drain_timeout;
  uint32_t max_packet_size;  // from the broker, as from the client
  ShortReadSweep& sweep;
  WriteStallWatch& stalls;
  std::chrono::milliseconds write_timeout;  // a peer that takes nothing this long is closed
  config::RateExceeded on_rate_exceeded;
};

class Relay final : public net::ReadyListener,
                    private ShortReadSweep::Member,
                    private WriteStallWatch::Member {
 public:
  // `client_decoder` holds what the client sent after its CONNECT.
  Relay(net::ByteStream& client_stream, mqtt::Decoder client_decoder,
        net::ByteStream& broker_stream, Enforcer enforcer, mqtt::ProtocolVersion version,
        KeepAlive keep_alive, const RelayEnvironment& env, SessionReport& report, RelayOwner& owner,
        const boost::asio::any_io_executor& executor);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void Start();
  // Ends the relay: MQTT 5 clients get DISCONNECT `disconnect` if given; what is queued
  // is still written (within limits.drain_timeout). The first reason given is the one
  // reported, with its `detail` (the audit line's).
  void Stop(EndReason reason, std::optional<mqtt::ReasonCode> disconnect = std::nullopt,
            std::string_view detail = {});
  // Ends it at once, writing nothing more (the drain timeout has passed).
  void Abort();
  // After a policy reload: subscriptions no longer granted are removed at the broker.
  void PolicyChanged(config::DeniedPublish on_denied_publish);
  // The client's message and byte rates (at login, and after a reload).
  void SetRates(const ClientRates& rates) { rate_.Update(rates, env_.clock.Now()); }
  // For the admin API's session list.
  const Enforcer& enforcer() const { return enforcer_; }
  mqtt::ProtocolVersion version() const { return version_; }

  void OnReady(int tag, const boost::system::error_code& error) override;

 private:
  // Where one direction is.
  enum class Flow : uint8_t {
    kRunnable,
    // Runnable, and its sender's last read in this turn took all the kernel had: it
    // waits for readability instead of reading only to hear EAGAIN.
    kSenderDrained,
    kAwaitingRead,   // a readiness wait on the sender is pending
    kAwaitingWrite,  // what it read is still being written: it reads nothing more
    // The client is over its rate: nothing is read or decoded from it until the
    // watchdog reaches throttled_until_ (limits.on_rate_exceeded: throttle).
    kThrottled,
  };
  // Where the relay is.
  enum class Phase : uint8_t {
    kRelaying,
    kFlushing,  // stopped: writing out what is queued, reading nothing
    kClosed,    // links closed; callbacks still to come back
    kReleased,  // the owner has been told
  };
  // One end of the relay.
  struct Peer {
    net::ByteStream& stream;
    mqtt::Decoder decoder;           // what it sent, not yet judged
    Outbox outbox;                   // what it is to be sent
    Flow flow = Flow::kRunnable;     // of the direction that reads from it
    bool awaiting_writable = false;  // a wait for room to write to it is pending
    SteadyTime stalled_since{};      // when it last stopped taking bytes (awaiting_writable)
    // Its read wait began after a short read, not after EAGAIN: a FIN may lie unread
    // (ShortReadSweep).
    bool unconfirmed = false;
  };
  // What one Drain() asks the relay to do after.
  struct Drained {
    size_t packets = 0;
    std::optional<ClientRate::Hold> hold;        // the client is over its rate: throttle it
    bool yielded = false;                        // judged a SUBSCRIBE: the rest waits a turn
    std::optional<EndReason> end;                // stop, for this reason ...
    std::optional<mqtt::ReasonCode> disconnect;  // ... with this DISCONNECT (MQTT 5)
  };

  Peer& SenderOf(mqtt::Direction from) { return peers_[static_cast<size_t>(from)]; }
  Peer& ReceiverOf(mqtt::Direction from) { return peers_[1 - static_cast<size_t>(from)]; }
  Peer& client() { return SenderOf(mqtt::Direction::kClientToServer); }
  Peer& broker() { return SenderOf(mqtt::Direction::kServerToClient); }
  // Pieces the direction `from` has queued and not yet written.
  uint32_t Unwritten(mqtt::Direction from) const;

  // Runs the directions that can make progress, a bounded number of rounds.
  void Pump();
  // One round of one direction: judge what was read, queue it, write, read again. True
  // when it judged a SUBSCRIBE and left the rest for the thread's next turn.
  bool Step(mqtt::Direction from);
  // Decodes and judges every complete packet buffered from `from`; no I/O.
  Drained Drain(mqtt::Direction from);
  Outcome Judge(mqtt::Direction from, const mqtt::Frame& frame);
  void Flush(Peer& to);
  void AwaitReady(Peer& peer, net::Want want, int tag);
  // The client went over its rate: it is read from again at `hold.until`.
  void Throttle(const ClientRate::Hold& hold);
  void EndThrottle(SteadyTime now);
  void ArmWatchdog();
  void OnWatchdog(const boost::system::error_code& error);
  void Recheck() override;
  void CheckStall(SteadyTime now) override;
  void Fail(const boost::system::error_code& error);
  // Closes both links as the end reason asks.
  void Close();
  // Tells the owner, posted, once nothing of the relay is pending.
  void ReleaseIfDone();
  void EndWith(EndReason reason, std::string_view detail = {});

  const RelayEnvironment& env_;
  SessionReport& report_;
  RelayOwner& owner_;
  Enforcer enforcer_;
  const mqtt::ProtocolVersion version_;
  KeepAlive keep_alive_;
  ClientRate rate_;                     // unlimited until SetRates()
  SteadyTime throttled_since_{};        // the client's flow is kThrottled from ...
  SteadyTime throttled_until_{};        // ... until
  boost::asio::steady_timer watchdog_;  // keep-alive, then the drain deadline
  PendingPieces pending_pieces_{};
  std::array<Peer, 2> peers_;   // indexed by the mqtt::Direction they send in
  uint32_t pending_waits_ = 0;  // callbacks still to come; the relay lives until 0
  uint32_t decisions_ = 0;      // for sampling the decision latency
  Phase phase_ = Phase::kRelaying;
  bool pumping_ = false;  // inside Pump(): callbacks only mark what is runnable
  std::optional<EndReason> end_;
  std::string detail_;
};

}  // namespace moat::proxy
