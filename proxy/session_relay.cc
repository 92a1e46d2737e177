// The relay of an admitted Session: every packet through the codec and the Enforcer,
// allowed ones on as they came, driven by readiness callbacks. Each direction reads a
// chunk, judges the packets in it, queues what goes on (borrowed from the decoder) and
// what goes back (moat's answers), writes, and reads again only once its output is out.
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include "proxy/audit_log.h"
#include "proxy/auth/auth_services.h"
#include "proxy/log.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/session.h"

namespace moat::proxy {

namespace asio = boost::asio;
using mqtt::ReasonCode;

namespace {

metrics::DenyAction MetricAction(DenialAction action) {
  switch (action) {
    case DenialAction::kPublish:
      return metrics::DenyAction::kPublish;
    case DenialAction::kSubscribe:
      return metrics::DenyAction::kSubscribe;
    case DenialAction::kDeliver:
      return metrics::DenyAction::kDeliver;
    case DenialAction::kWill:
      return metrics::DenyAction::kWill;
  }
  return metrics::DenyAction::kPublish;
}

metrics::DenyReason MetricReason(policy::DenyReason reason) {
  switch (reason) {
    case policy::DenyReason::kDenyRule:
      return metrics::DenyReason::kDenyRule;
    case policy::DenyReason::kQosLimit:
      return metrics::DenyReason::kQosLimit;
    case policy::DenyReason::kRetainLimit:
      return metrics::DenyReason::kRetainLimit;
    case policy::DenyReason::kNoRule:
    case policy::DenyReason::kNone:
      break;
  }
  return metrics::DenyReason::kNoRule;
}

}  // namespace

void Session::RecordDenials(const std::vector<Denial>& denials) {
  for (const Denial& denial : denials) {
    env_.counters.Add<metrics::Metric::kDenialsTotal>(
        MetricAction(denial.action), MetricReason(denial.reason),
        denial.audit ? metrics::DenyMode::kAudit : metrics::DenyMode::kEnforce,
        metrics::RuleLabel{denial.rule_label});
    Audit({.event = "denial",
           .reason = policy::DenyReasonName(denial.reason),
           .rule = denial.rule,
           .topic = denial.topic,
           .action = DenialActionName(denial.action),
           .mode = denial.audit ? "audit" : "enforce"});
  }
}

void Session::Audit(AuditEvent event) const {
  AuditLog* log = AuditLog::Get();
  if (log == nullptr) return;
  event.identity = identity_.username;
  event.client_id = identity_.client_id;
  event.address = identity_.address;
  event.listener = identity_.listener;
  log->Write(event);
}

// Where one read's worth of packets goes, and what it asks the relay to do after.
struct Session::Drained {
  Outbox& onward;  // to the other side
  Outbox& back;    // answers to the sender
  Producer producer;
  std::optional<ReasonCode> disconnect;  // then end the session (MQTT 5: with this code)
  bool stop = false;                     // DISCONNECT forwarded: end cleanly
  size_t packets = 0;

  void Queue(const mqtt::Frame& frame, Outcome& outcome) {
    if (!outcome.answer.empty()) back.AddOwned(std::move(outcome.answer), producer);
    if (outcome.forward_raw) {
      onward.AddBorrowed(frame.raw, producer);
    } else if (!outcome.forward_rewritten.empty()) {
      onward.AddOwned(std::move(outcome.forward_rewritten), producer);
    }
  }
};

template <typename Decide>
Outcome Session::Judge(Decide decide) {
  // Timing every decision would cost more than many decisions do: one in 64 is plenty
  // for the latency histogram.
  if ((++decisions_ & 63) != 0) return decide();
  const auto started = std::chrono::steady_clock::now();
  Outcome outcome = decide();
  env_.counters.Observe<metrics::Metric::kPolicyDecisionSeconds>(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return outcome;
}

void Session::DrainClient(Drained& out) {
  for (;;) {
    auto result = client_decoder_.Next();
    if (std::holds_alternative<mqtt::NeedMore>(result)) return;
    if (const auto* error = std::get_if<mqtt::DecodeError>(&result)) {
      // What was accepted before the bad packet still goes on; the rest is refused.
      CountMalformed(mqtt::Direction::kClientToServer, *error);
      Audit(
          {.event = "malformed", .reason = mqtt::DecodeErrorName(*error), .detail = "from client"});
      End(EndReason::kMalformedFromClient);
      malformed_ = mqtt::DecodeErrorName(*error);
      out.disconnect = mqtt::ReasonCodeFor(*error);
      return;
    }
    auto& frame = std::get<mqtt::Frame>(result);
    ++out.packets;
    env_.counters.Add<metrics::Metric::kPacketsTotal>(mqtt::Direction::kClientToServer, frame.type);
    if (frame.type == mqtt::PacketType::kAuth) {
      // moat refused every Authentication Method at CONNECT, so re-authentication
      // cannot be what this is [MQTT-4.12.1-1].
      End(EndReason::kRefused);
      refusal_ = policy::AuthFailureName(policy::AuthFailure::kUnsupportedAuthMethod);
      out.disconnect = ReasonCode::kBadAuthenticationMethod;
      return;
    }
    Outcome outcome = Judge([&] { return enforcer_->FromClient(frame, *env_.authorizer); });
    RecordDenials(outcome.denials);
    if (outcome.disconnect) {
      End(EndReason::kRefused);
      out.disconnect = outcome.disconnect;
      return;
    }
    out.Queue(frame, outcome);
    if (frame.type == mqtt::PacketType::kDisconnect) {
      End(EndReason::kClientDisconnected);
      out.stop = true;
      return;
    }
  }
}

void Session::DrainBroker(Drained& out) {
  for (;;) {
    auto result = broker_decoder_.Next();
    if (std::holds_alternative<mqtt::NeedMore>(result)) return;
    if (const auto* error = std::get_if<mqtt::DecodeError>(&result)) {
      // A broker moat cannot parse is not trusted with the client any longer.
      CountMalformed(mqtt::Direction::kServerToClient, *error);
      Audit(
          {.event = "malformed", .reason = mqtt::DecodeErrorName(*error), .detail = "from broker"});
      End(EndReason::kMalformedFromBroker);
      malformed_ = mqtt::DecodeErrorName(*error);
      out.disconnect = ReasonCode::kImplementationSpecificError;
      return;
    }
    auto& frame = std::get<mqtt::Frame>(result);
    ++out.packets;
    env_.counters.Add<metrics::Metric::kPacketsTotal>(mqtt::Direction::kServerToClient, frame.type);
    if (const auto* connack = std::get_if<mqtt::Connack>(&frame.packet)) {
      // The keep-alive moat enforces is the one the broker granted [MQTT-3.2.2-21].
      if (auto server_keep_alive =
              connack->properties.Integer(mqtt::PropertyId::kServerKeepAlive)) {
        keep_alive_ = std::chrono::seconds(*server_keep_alive);
        ArmWatchdog();
      }
    }
    Outcome outcome = Judge([&] { return enforcer_->FromBroker(frame, *env_.authorizer); });
    RecordDenials(outcome.denials);
    if (outcome.disconnect) {
      End(EndReason::kMalformedFromBroker);
      out.disconnect = outcome.disconnect;
      return;
    }
    out.Queue(frame, outcome);
    if (frame.type == mqtt::PacketType::kDisconnect) {
      End(EndReason::kBrokerClosed);
      out.stop = true;
      return;
    }
  }
}

namespace {

// Rounds one Pump() may run before it lets the thread's other sessions have a turn.
constexpr int kRoundsPerPump = 16;

// OnReady tags: a side (kClientSide, kBrokerSide) became readable, or, offset by this,
// writable.
constexpr int kWritableTag = 2;

}  // namespace

void Session::StartRelay() {
  relaying_ = true;
  flow_ = {Flow::kRunnable, Flow::kRunnable};
  ArmWatchdog();
  Pump();
}

void Session::Pump() {
  if (pumping_ || finished_) return;
  pumping_ = true;
  for (int round = 0; round < kRoundsPerPump && !stopping_ && !finished_; ++round) {
    bool progressed = false;
    for (size_t direction : {kFromClient, kFromBroker}) {
      Flow& flow = flow_[direction];
      if (flow == Flow::kAwaitingWrite && pending_pieces_[direction] == 0) flow = Flow::kRunnable;
      if (flow != Flow::kRunnable || stopping_ || finished_) continue;
      Step(direction);
      progressed = true;
    }
    if (!progressed) break;
  }
  // A short read only vouches for the socket until this turn ends: the reactor may poll
  // in between and take the edge the next wait would need.
  drained_ = {false, false};
  pumping_ = false;
  if (finished_) return ReleaseIfDone();
  if (stopping_) {
    if (client_outbox_.empty() && broker_outbox_.empty()) Finish();
    return;
  }
  if (flow_[kFromClient] == Flow::kRunnable || flow_[kFromBroker] == Flow::kRunnable) {
    // Still busy: come back after the others had their turn.
    ++pending_waits_;
    asio::post(watchdog_timer_.get_executor(), [this] {
      --pending_waits_;
      if (finished_) return ReleaseIfDone();
      Pump();
    });
  }
}

void Session::Step(size_t direction) {
  // A direction reads from the side of the same number and forwards to the other one.
  const bool from_client = direction == kFromClient;
  const size_t other = 1 - direction;
  mqtt::Decoder& decoder = DecoderOf(direction);
  net::ByteStream& source = StreamOf(direction);
  Outbox& back = OutboxOf(direction);
  Outbox& onward = OutboxOf(other);
  Drained drained{.onward = onward,
                  .back = back,
                  .producer = from_client ? Producer::kFromClient : Producer::kFromBroker,
                  .disconnect = std::nullopt};
  if (from_client) {
    DrainClient(drained);
    if (drained.packets > 0) ClientActive();
  } else {
    DrainBroker(drained);
  }
  FlushOutbox(other);
  FlushOutbox(direction);
  if (finished_) return;
  if (drained.disconnect) return Stop(end_reason_, drained.disconnect);
  if (drained.stop) return Stop(end_reason_);
  if (pending_pieces_[direction] > 0) {
    flow_[direction] = Flow::kAwaitingWrite;
    return;
  }
  net::IoResult read;
  if (drained_[direction]) {
    // The last read, earlier in this Pump(), took all the kernel had: waiting now saves
    // a read that would only say EAGAIN (net::AwaitSocket's precondition holds for it).
    drained_[direction] = false;
    read.want = net::Want::kReadable;
  } else {
    read = source.TryRead(decoder);
  }
  if (read.error) return Fail(read.error);
  if (read.end) {
    End(from_client ? EndReason::kClientClosed : EndReason::kBrokerClosed);
    return Stop(end_reason_);
  }
  if (read.want != net::Want::kNothing) {
    // Nothing to read: an idle direction keeps no buffers while it waits.
    if (decoder.buffered() == 0) decoder.ReleaseIdleMemory();
    if (back.empty()) back.ReleaseIdleMemory();
    flow_[direction] = Flow::kAwaitingRead;
    ++pending_waits_;
    source.AwaitReady(read.want, decoder, *this, static_cast<int>(direction));
    return;
  }
  drained_[direction] = read.drained;
  env_.counters.Add<metrics::Metric::kBytesTotal>(
      from_client ? mqtt::Direction::kClientToServer : mqtt::Direction::kServerToClient,
      read.bytes);
}

void Session::FlushOutbox(size_t side) {
  Outbox& outbox = OutboxOf(side);
  if (outbox.awaiting_writable || outbox.empty() || finished_) return;
  const net::IoResult result = outbox.Flush(StreamOf(side));
  if (result.error) return Fail(result.error);
  if (result.want != net::Want::kNothing) {
    outbox.awaiting_writable = true;
    ++pending_waits_;
    StreamOf(side).AwaitReady(result.want, DecoderOf(side), *this,
                              kWritableTag + static_cast<int>(side));
  }
}

void Session::OnReady(int tag, const boost::system::error_code& error) {
  --pending_waits_;
  if (finished_) return ReleaseIfDone();
  if (error) return Fail(error);
  if (tag >= kWritableTag) {
    const auto side = static_cast<size_t>(tag - kWritableTag);
    OutboxOf(side).awaiting_writable = false;
    FlushOutbox(side);
  } else {
    const auto direction = static_cast<size_t>(tag);
    if (flow_[direction] == Flow::kAwaitingRead) flow_[direction] = Flow::kRunnable;
  }
  if (finished_) return ReleaseIfDone();
  Pump();
}

void Session::ArmWatchdog() {
  auto deadline = asio::steady_timer::time_point::max();
  if (stopping_) {
    // What is still queued gets this long to leave; then the links close regardless.
    deadline = std::chrono::steady_clock::now() + env_.config.limits.drain_timeout;
  } else if (keep_alive_.count() > 0) {
    // MQTT-3.1.2-24: 1.5 times the keep-alive without a packet ends the connection.
    deadline = last_client_packet_ + keep_alive_ * 3 / 2;
  }
  if (deadline == asio::steady_timer::time_point::max()) return;
  watchdog_timer_.expires_at(deadline);
  ++pending_waits_;
  // Exact-size, like the socket waits (net::AwaitSocket): it is parked for a long time.
  watchdog_timer_.async_wait(
      asio::bind_allocator(std::allocator<void>(),
                           [this](const boost::system::error_code& error) { OnWatchdog(error); }));
}

void Session::OnWatchdog(const boost::system::error_code& error) {
  --pending_waits_;
  if (finished_) return ReleaseIfDone();
  if (error) return;  // re-armed or cancelled: whoever did it has armed the next wait
  if (stopping_) return Finish();
  if (std::chrono::steady_clock::now() >= last_client_packet_ + keep_alive_ * 3 / 2) {
    End(EndReason::kKeepAliveTimeout);
    return Stop(EndReason::kKeepAliveTimeout, ReasonCode::kKeepAliveTimeout);
  }
  ArmWatchdog();
}

void Session::Stop(EndReason reason, std::optional<ReasonCode> disconnect) {
  End(reason);
  if (stopping_ || finished_) return;
  stopping_ = true;
  flow_ = {Flow::kStopped, Flow::kStopped};
  // Before MQTT 5 a server has no DISCONNECT: closing is the only answer.
  if (disconnect && version_ == mqtt::ProtocolVersion::kV5) {
    std::vector<uint8_t> bytes;
    if (mqtt::Encode(mqtt::Disconnect{static_cast<uint8_t>(*disconnect), {}}, version_, bytes) ==
        mqtt::EncodeError::kNone) {
      client_outbox_.AddOwned(std::move(bytes), Producer::kSession);
    }
  }
  FlushOutbox(kClientSide);
  FlushOutbox(kBrokerSide);
  if (finished_) return;
  if (client_outbox_.empty() && broker_outbox_.empty()) {
    if (!pumping_) Finish();  // else Pump() finishes once it unwinds
    return;
  }
  ArmWatchdog();
}

void Session::Fail(const boost::system::error_code& error) {
  End(aborted_ ? EndReason::kShutdown : EndReason::kIoError);
  if (error_.empty()) error_ = error.message();
  Finish();
}

void Session::Finish() {
  if (finished_) return;
  finished_ = true;
  flow_ = {Flow::kStopped, Flow::kStopped};
  boost::system::error_code ignored;
  watchdog_timer_.cancel();
  // After a clean DISCONNECT the broker gets a clean close; in every other case the
  // link just drops, which is what makes the broker publish the client's Will.
  if (broker_) {
    if (end_reason_ == EndReason::kClientDisconnected) {
      broker_->ShutdownNow();
    } else {
      broker_->Close();
    }
  }
  if (end_reason_ == EndReason::kClientClosed || end_reason_ == EndReason::kIoError) {
    client_->Close();
  } else {
    client_->ShutdownNow();
  }
  std::string error = error_;
  if (!malformed_.empty()) error = malformed_;
  if (!refusal_.empty()) error = refusal_;
  if (!upstream_error_.empty()) error = upstream_error_;
  LogSessionEnd(identity_, EndReasonName(end_reason_), error);
  ReleaseIfDone();
}

void Session::ReleaseIfDone() {
  if (!finished_ || pending_waits_ > 0 || pumping_ || released_) return;
  released_ = true;
  // Posted: the caller may still be on this session's stack.
  asio::post(watchdog_timer_.get_executor(),
             [owner = &env_.owner, self = this] { owner->SessionFinished(self); });
}

void Session::RequestDrain() {
  draining_ = true;
  if (relaying_) {
    Stop(EndReason::kShutdown, ReasonCode::kServerShuttingDown);
  } else {
    Abort();
  }
}

void Session::Abort() {
  aborted_ = true;
  if (relaying_ && !finished_) {
    End(EndReason::kShutdown);
    Finish();
    return;
  }
  client_->Close();
  if (broker_) broker_->Close();
}

void Session::PolicyChanged() {
  if (!relaying_ || stopping_ || finished_) return;
  std::vector<uint8_t> unsubscribe = enforcer_->RevokeSubscriptions(*env_.authorizer);
  if (unsubscribe.empty()) return;
  broker_outbox_.AddOwned(std::move(unsubscribe), Producer::kSession);
  FlushOutbox(kBrokerSide);
}

void Session::RevokeIfChanged(const policy::PasswordFile& file) {
  if (!credential_fingerprint_ || !relaying_) return;
  if (Credentials::Fingerprint(file, identity_.username) == credential_fingerprint_) return;
  Stop(EndReason::kRevoked, ReasonCode::kNotAuthorized);
}

}  // namespace moat::proxy
