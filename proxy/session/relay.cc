#include "proxy/session/relay.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/str_format.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/session/session_report.h"

namespace moat::proxy {

namespace asio = boost::asio;
using mqtt::Direction;
using mqtt::ReasonCode;

namespace {

constexpr Direction kDirections[] = {Direction::kClientToServer, Direction::kServerToClient};

// How a direction's events end the session: the differences between the two directions
// that are not the Enforcer's.
struct DirectionEnds {
  EndReason disconnect_packet;  // its peer sent DISCONNECT
  EndReason closed;             // its peer closed the link
  EndReason refused;            // the Enforcer ended the session over a packet of it
  EndReason malformed;          // the codec refused a packet of it
};
constexpr DirectionEnds kEnds[] = {
    {EndReason::kClientDisconnected, EndReason::kClientClosed, EndReason::kRefused,
     EndReason::kMalformedFromClient},
    // Whatever the Enforcer refuses from the broker is the broker erring.
    {EndReason::kBrokerClosed, EndReason::kBrokerClosed, EndReason::kMalformedFromBroker,
     EndReason::kMalformedFromBroker},
};
const DirectionEnds& EndsOf(Direction from) { return kEnds[static_cast<size_t>(from)]; }

Producer ProducerOf(Direction from) {
  return from == Direction::kClientToServer ? Producer::kFromClient : Producer::kFromBroker;
}

// Rounds one Pump() may run before it lets the thread's other sessions have a turn.
constexpr int kRoundsPerPump = 16;

// OnReady tags: which peer, and whether its input or room for its output.
enum class WaitFor : int { kInput = 0, kOutputRoom = 1 };
int Tag(Direction peer, WaitFor what) {
  return static_cast<int>(peer) * 2 + static_cast<int>(what);
}
Direction PeerOf(int tag) { return static_cast<Direction>(tag / 2); }
WaitFor WhatOf(int tag) { return static_cast<WaitFor>(tag % 2); }

}  // namespace

Relay::Relay(net::ByteStream& client_stream, mqtt::Decoder client_decoder,
             net::ByteStream& broker_stream, Enforcer enforcer, mqtt::ProtocolVersion version,
             KeepAlive keep_alive, const RelayEnvironment& env, SessionReport& report,
             RelayOwner& owner, const asio::any_io_executor& executor)
    : env_(env),
      report_(report),
      owner_(owner),
      enforcer_(std::move(enforcer)),
      version_(version),
      keep_alive_(keep_alive),
      watchdog_(executor),
      peers_{{{client_stream, std::move(client_decoder), Outbox(pending_pieces_)},
              {broker_stream, mqtt::Decoder({Direction::kServerToClient, env.max_packet_size}),
               Outbox(pending_pieces_)}}} {
  broker().decoder.set_version(version);
}

void Relay::Start() {
  ArmWatchdog();
  Pump();
}

uint32_t Relay::Unwritten(Direction from) const {
  return pending_pieces_[static_cast<size_t>(ProducerOf(from))];
}

void Relay::Pump() {
  if (pumping_ || phase_ >= Phase::kClosed) return;
  pumping_ = true;
  bool yielded = false;
  for (int round = 0; round < kRoundsPerPump && phase_ == Phase::kRelaying && !yielded; ++round) {
    bool progressed = false;
    for (const Direction from : kDirections) {
      Flow& flow = SenderOf(from).flow;
      if (flow == Flow::kAwaitingWrite && Unwritten(from) == 0) flow = Flow::kRunnable;
      if (phase_ != Phase::kRelaying || (flow != Flow::kRunnable && flow != Flow::kSenderDrained)) {
        continue;
      }
      yielded = Step(from) || yielded;
      progressed = true;
    }
    if (!progressed) break;
  }
  // A short read only vouches for the socket until this turn ends: the reactor may poll
  // in between and take the edge the next wait would need.
  bool runnable = false;
  for (Peer& peer : peers_) {
    if (peer.flow == Flow::kSenderDrained) peer.flow = Flow::kRunnable;
    runnable = runnable || peer.flow == Flow::kRunnable;
  }
  pumping_ = false;
  if (phase_ >= Phase::kClosed) return ReleaseIfDone();
  if (phase_ == Phase::kFlushing) {
    if (client().outbox.empty() && broker().outbox.empty()) Close();
    return;
  }
  if (runnable) {
    // Still busy: come back after the others had their turn.
    ++pending_waits_;
    asio::post(watchdog_.get_executor(), [this] {
      --pending_waits_;
      if (phase_ >= Phase::kClosed) return ReleaseIfDone();
      Pump();
    });
  }
}

bool Relay::Step(Direction from) {
  Peer& sender = SenderOf(from);
  const Drained drained = Drain(from);
  if (from == Direction::kClientToServer && drained.packets > 0)
    keep_alive_.Heard(env_.clock.Now());
  Flush(ReceiverOf(from));
  Flush(sender);
  if (phase_ >= Phase::kClosed) return false;
  if (drained.end) {
    Stop(*drained.end, drained.disconnect);
    return false;
  }
  if (drained.hold) {
    Throttle(*drained.hold);
    return false;
  }
  if (Unwritten(from) > 0) {
    sender.flow = Flow::kAwaitingWrite;
    return drained.yielded;
  }
  // What is buffered is judged first: reading now would only grow the buffer.
  if (drained.yielded) return true;
  net::IoResult read;
  const bool skipped_read = sender.flow == Flow::kSenderDrained;
  if (skipped_read) {
    // The last read, earlier in this Pump(), took all the kernel had: waiting now saves
    // a read that would only say EAGAIN (net::AwaitSocket's precondition holds for it).
    read.want = net::Want::kReadable;
  } else {
    read = sender.stream.TryRead(sender.decoder);
  }
  if (read.error) {
    Fail(read.error);
    return false;
  }
  if (read.end) {
    Stop(EndsOf(from).closed);
    return false;
  }
  if (read.want != net::Want::kNothing) {
    // Nothing to read: an idle direction keeps no buffers while it waits.
    if (sender.decoder.buffered() == 0) sender.decoder.ReleaseIdleMemory();
    if (sender.outbox.empty()) sender.outbox.ReleaseIdleMemory();
    sender.flow = Flow::kAwaitingRead;
    if (skipped_read) {
      sender.unconfirmed = true;
      env_.sweep.Add(*this);
    }
    AwaitReady(sender, read.want, Tag(from, WaitFor::kInput));
    return false;
  }
  sender.flow = read.drained ? Flow::kSenderDrained : Flow::kRunnable;
  report_.Bytes(from, read.bytes);
  return false;
}

Relay::Drained Relay::Drain(Direction from) {
  Peer& sender = SenderOf(from);
  Peer& receiver = ReceiverOf(from);
  const DirectionEnds& ends = EndsOf(from);
  Drained out;
  // Only the client has rates; one time serves every packet of this turn.
  const bool rated = from == Direction::kClientToServer && rate_.limited();
  const bool throttling = rated && env_.on_rate_exceeded == config::RateExceeded::kThrottle;
  const SteadyTime now = rated ? env_.clock.Now() : SteadyTime{};
  for (;;) {
    // Over the rate, what the client sent stays undecoded: in the kernel's buffers and
    // then the client's, which is the backpressure. With nothing buffered one more read
    // is let in (one chunk, as ever), so only a client that does send more is held
    // back and counted, never one that merely used up its burst and went quiet.
    if (throttling && sender.decoder.buffered() > 0) {
      if (auto hold = rate_.Held(now)) {
        out.hold = hold;
        return out;
      }
    }
    auto result = sender.decoder.Next();
    if (std::holds_alternative<mqtt::NeedMore>(result)) return out;
    if (const auto* error = std::get_if<mqtt::DecodeError>(&result)) {
      // What was accepted before the bad packet still goes on; the rest is refused. A
      // client hears what was wrong with its packet; a broker moat cannot parse is not
      // trusted with the client any longer, and the client hears only that.
      report_.Malformed(from, *error);
      EndWith(ends.malformed, mqtt::DecodeErrorName(*error));
      out.end = ends.malformed;
      out.disconnect = from == Direction::kClientToServer
                           ? mqtt::ReasonCodeFor(*error)
                           : ReasonCode::kImplementationSpecificError;
      return out;
    }
    auto& frame = std::get<mqtt::Frame>(result);
    ++out.packets;
    report_.Packet(from, frame.type, frame.raw.size());
    if (rated) {
      if (!throttling) {
        if (const auto hold = rate_.Held(now)) {
          report_.RateExceeded(*hold, /*throttled=*/false);
          EndWith(EndReason::kRefused, policy::DenyReasonName(hold->reason));
          out.end = EndReason::kRefused;
          out.disconnect = ReasonCode::kMessageRateTooHigh;
          return out;
        }
      }
      rate_.Spend(frame.type == mqtt::PacketType::kPublish, frame.raw.size());
    }
    Outcome outcome = Judge(from, frame);
    report_.Denials(outcome.denials);
    report_.PartialSubscriptions(outcome.partial_subscriptions);
    if (outcome.server_keep_alive) {
      keep_alive_.set_interval(std::chrono::seconds(*outcome.server_keep_alive));
      ArmWatchdog();
    }
    if (outcome.disconnect) {
      EndWith(ends.refused,
              absl::StrFormat("reason code 0x%02X", static_cast<unsigned>(*outcome.disconnect)));
      out.end = ends.refused;
      out.disconnect = outcome.disconnect;
      return out;
    }
    const Producer producer = ProducerOf(from);
    if (!outcome.answer.empty()) sender.outbox.AddOwned(std::move(outcome.answer), producer);
    if (outcome.forward_raw) {
      receiver.outbox.AddBorrowed(frame.raw, producer);
    } else if (!outcome.forward_rewritten.empty()) {
      receiver.outbox.AddOwned(std::move(outcome.forward_rewritten), producer);
    }
    if (frame.type == mqtt::PacketType::kDisconnect) {
      out.end = ends.disconnect_packet;
      return out;
    }
    // Up to limits.max_filters_per_subscribe decisions in one packet (milliseconds,
    // tests/perf/README.md): the thread's other sessions get their turn before the next.
    if (frame.type == mqtt::PacketType::kSubscribe) {
      out.yielded = true;
      return out;
    }
  }
}

Outcome Relay::Judge(Direction from, const mqtt::Frame& frame) {
  const policy::Authorizer& authorizer = *env_.authorizer;
  // Timing every decision would cost more than many decisions do: one in 64 is plenty
  // for the latency histogram.
  if ((++decisions_ & 63) != 0) return enforcer_.Judge(from, frame, authorizer);
  const auto started = std::chrono::steady_clock::now();
  Outcome outcome = enforcer_.Judge(from, frame, authorizer);
  report_.counters().Observe<metrics::Metric::kPolicyDecisionSeconds>(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return outcome;
}

void Relay::Flush(Peer& to) {
  if (to.awaiting_writable || to.outbox.empty() || phase_ >= Phase::kClosed) return;
  const net::IoResult result = to.outbox.Flush(to.stream);
  if (result.error) return Fail(result.error);
  if (result.want != net::Want::kNothing) {
    to.awaiting_writable = true;
    to.stalled_since = env_.clock.Now();
    env_.stalls.Watch(*this);
    const Direction peer =
        &to == &client() ? Direction::kClientToServer : Direction::kServerToClient;
    AwaitReady(to, result.want, Tag(peer, WaitFor::kOutputRoom));
  }
}

void Relay::AwaitReady(Peer& peer, net::Want want, int tag) {
  ++pending_waits_;
  peer.stream.AwaitReady(want, peer.decoder, *this, tag);
}

void Relay::OnReady(int tag, const boost::system::error_code& error) {
  --pending_waits_;
  if (phase_ >= Phase::kClosed) return ReleaseIfDone();
  // Only Close() and Recheck() cancel waits; after Recheck(), look again as if ready.
  if (error && error != asio::error::operation_aborted) return Fail(error);
  Peer& peer = SenderOf(PeerOf(tag));
  if (WhatOf(tag) == WaitFor::kOutputRoom) {
    // It took bytes: whatever stall it was in is over.
    peer.awaiting_writable = false;
    if (!client().awaiting_writable && !broker().awaiting_writable) {
      WriteStallWatch::Unwatch(*this);
    }
    Flush(peer);
  } else if (peer.flow == Flow::kAwaitingRead) {
    peer.flow = Flow::kRunnable;
    peer.unconfirmed = false;
  }
  if (phase_ >= Phase::kClosed) return ReleaseIfDone();
  Pump();
}

void Relay::Recheck() {
  if (phase_ >= Phase::kClosed) return;
  for (Peer& peer : peers_) {
    if (!peer.unconfirmed) continue;
    peer.unconfirmed = false;
    peer.stream.CancelWaits();
  }
}

void Relay::CheckStall(SteadyTime now) {
  if (phase_ >= Phase::kClosed) return;
  for (const Direction peer : kDirections) {
    const Peer& stalled = SenderOf(peer);
    if (!stalled.awaiting_writable || now - stalled.stalled_since < env_.write_timeout) continue;
    // Nothing more can be said to a peer that reads nothing: both links close.
    EndWith(EndReason::kWriteTimeout, peer == Direction::kClientToServer
                                          ? "the client reads nothing"
                                          : "the broker reads nothing");
    return Close();
  }
}

void Relay::Throttle(const ClientRate::Hold& hold) {
  report_.RateExceeded(hold, /*throttled=*/true);
  // Only a runnable client is stepped, so each hold starts a wait of its own.
  throttled_since_ = env_.clock.Now();
  client().flow = Flow::kThrottled;
  throttled_until_ = hold.until;
  ArmWatchdog();
}

void Relay::EndThrottle(SteadyTime now) {
  client().flow = Flow::kRunnable;
  report_.ThrottleEnded(now - throttled_since_);
  // moat did not listen while it held the client back; that silence is not the client's.
  keep_alive_.Heard(now);
}

void Relay::ArmWatchdog() {
  std::optional<SteadyTime> deadline;
  if (phase_ == Phase::kFlushing) {
    // What is still queued gets this long to leave; then the links close regardless.
    deadline = env_.clock.Now() + env_.drain_timeout;
  } else if (client().flow == Flow::kThrottled) {
    deadline = throttled_until_;
  } else {
    deadline = keep_alive_.Deadline();
  }
  if (!deadline) return;
  // Relative to the relay's clock, which need not be the timer's.
  watchdog_.expires_after(*deadline - env_.clock.Now());
  ++pending_waits_;
  // Exact-size, like the socket waits (net::AwaitSocket): it is parked for a long time.
  watchdog_.async_wait(
      asio::bind_allocator(std::allocator<void>(),
                           [this](const boost::system::error_code& error) { OnWatchdog(error); }));
}

void Relay::OnWatchdog(const boost::system::error_code& error) {
  --pending_waits_;
  if (phase_ >= Phase::kClosed) return ReleaseIfDone();
  if (error) return;  // re-armed or cancelled: whoever did it has armed the next wait
  if (phase_ == Phase::kFlushing) return Close();
  if (client().flow == Flow::kThrottled) {
    const SteadyTime now = env_.clock.Now();
    if (now < throttled_until_) return ArmWatchdog();
    EndThrottle(now);
    ArmWatchdog();
    return Pump();
  }
  if (keep_alive_.Expired(env_.clock.Now())) {
    return Stop(EndReason::kKeepAliveTimeout, ReasonCode::kKeepAliveTimeout);
  }
  ArmWatchdog();
}

void Relay::Stop(EndReason reason, std::optional<ReasonCode> disconnect, std::string_view detail) {
  EndWith(reason, detail);
  if (phase_ != Phase::kRelaying) return;
  phase_ = Phase::kFlushing;
  // Before MQTT 5 a server has no DISCONNECT: closing is the only answer.
  if (disconnect && version_ == mqtt::ProtocolVersion::kV5) {
    std::vector<uint8_t> bytes;
    if (mqtt::Encode(mqtt::Disconnect{static_cast<uint8_t>(*disconnect), {}}, version_, bytes) ==
        mqtt::EncodeError::kNone) {
      client().outbox.AddOwned(std::move(bytes), Producer::kSession);
    }
  }
  Flush(client());
  Flush(broker());
  if (phase_ >= Phase::kClosed) return;
  if (client().outbox.empty() && broker().outbox.empty()) {
    if (!pumping_) Close();  // else Pump() closes once it unwinds
    return;
  }
  ArmWatchdog();
}

void Relay::Abort() {
  EndWith(EndReason::kShutdown);
  Close();
}

void Relay::Fail(const boost::system::error_code& error) {
  EndWith(EndReason::kIoError, error.message());
  Close();
}

void Relay::EndWith(EndReason reason, std::string_view detail) {
  if (end_) return;  // the first reason is the real one
  end_ = reason;
  detail_ = detail;
}

void Relay::Close() {
  if (phase_ >= Phase::kClosed) return;
  phase_ = Phase::kClosed;
  if (client().flow == Flow::kThrottled) EndThrottle(env_.clock.Now());
  watchdog_.cancel();
  WriteStallWatch::Unwatch(*this);
  // After a clean DISCONNECT the broker gets a clean close; in every other case the
  // link just drops, which is what makes the broker publish the client's Will.
  if (end_ == EndReason::kClientDisconnected) {
    broker().stream.ShutdownNow();
  } else {
    broker().stream.Close();
  }
  if (DropsClientLink(*end_)) {
    client().stream.Close();
  } else {
    client().stream.ShutdownNow();
  }
  ReleaseIfDone();
}

void Relay::ReleaseIfDone() {
  if (phase_ != Phase::kClosed || pending_waits_ > 0 || pumping_) return;
  phase_ = Phase::kReleased;
  // Posted: the caller may still be on this relay's stack.
  asio::post(watchdog_.get_executor(), [this] { owner_.RelayEnded(*end_, detail_); });
}

void Relay::PolicyChanged(config::DeniedPublish on_denied_publish) {
  enforcer_.set_on_denied_publish(on_denied_publish);
  if (phase_ != Phase::kRelaying) return;
  std::vector<uint8_t> unsubscribe = enforcer_.RevokeSubscriptions(*env_.authorizer);
  if (unsubscribe.empty()) return;
  broker().outbox.AddOwned(std::move(unsubscribe), Producer::kSession);
  Flush(broker());
}

}  // namespace moat::proxy
