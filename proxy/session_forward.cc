// The two forwarding loops of a Session: every packet through the codec and the
// Enforcer, allowed ones on as they came, one write per read.
#include <boost/asio/use_awaitable.hpp>

#include "proxy/audit_log.h"
#include "proxy/forward_batch.h"
#include "proxy/log.h"
#include "proxy/session.h"

namespace moat::proxy {

namespace asio = boost::asio;
using mqtt::ReasonCode;

asio::awaitable<void> Session::WriteTo(WriteGate& gate, net::ByteStream& stream,
                                       std::span<const asio::const_buffer> buffers) {
  co_await gate.Lock();
  GateLock unlock(gate);
  co_await stream.WriteAll(buffers);
}

asio::awaitable<void> Session::WriteBytes(WriteGate& gate, net::ByteStream& stream,
                                          const std::vector<uint8_t>& bytes) {
  const asio::const_buffer buffer(bytes.data(), bytes.size());
  co_await WriteTo(gate, stream, {&buffer, 1});
}

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

// What one read's worth of packets asks the loop to do, decided without suspending so
// the coroutine frames stay small (an idle connection holds two of them).
struct Session::Drained {
  ForwardBatch onward;                        // to the other side
  std::vector<std::vector<uint8_t>> answers;  // back to the sender, in order
  std::optional<ReasonCode> disconnect;       // then end the session (MQTT 5: with this code)
  bool stop = false;                          // DISCONNECT forwarded: end cleanly
  size_t packets = 0;
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
    if (!outcome.answer.empty()) out.answers.push_back(std::move(outcome.answer));
    if (outcome.forward_raw) {
      out.onward.Add(frame.raw);
    } else if (!outcome.forward_rewritten.empty()) {
      out.onward.AddOwned(std::move(outcome.forward_rewritten));
    }
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
      }
    }
    Outcome outcome = Judge([&] { return enforcer_->FromBroker(frame, *env_.authorizer); });
    RecordDenials(outcome.denials);
    if (outcome.disconnect) {
      End(EndReason::kMalformedFromBroker);
      out.disconnect = outcome.disconnect;
      return;
    }
    if (!outcome.answer.empty()) out.answers.push_back(std::move(outcome.answer));
    if (outcome.forward_raw) {
      out.onward.Add(frame.raw);
    } else if (!outcome.forward_rewritten.empty()) {
      out.onward.AddOwned(std::move(outcome.forward_rewritten));
    }
    if (frame.type == mqtt::PacketType::kDisconnect) {
      End(EndReason::kBrokerClosed);
      out.stop = true;
      return;
    }
  }
}

asio::awaitable<void> Session::Forward(mqtt::Direction direction) {
  const bool from_client = direction == mqtt::Direction::kClientToServer;
  mqtt::Decoder& decoder = from_client ? client_decoder_ : broker_decoder_;
  net::ByteStream& source = from_client ? *client_ : *broker_;
  WriteGate& source_gate = from_client ? client_gate_ : broker_gate_;
  net::ByteStream& destination = from_client ? *broker_ : *client_;
  WriteGate& destination_gate = from_client ? broker_gate_ : client_gate_;
  for (;;) {
    auto drained = std::make_unique<Drained>();
    if (from_client) {
      DrainClient(*drained);
      if (drained->packets > 0) ClientActive();
    } else {
      DrainBroker(*drained);
    }
    for (const auto& answer : drained->answers) {
      co_await WriteBytes(source_gate, source, answer);
    }
    if (!drained->onward.empty()) {
      co_await WriteTo(destination_gate, destination, drained->onward.buffers());
    }
    if (drained->disconnect) {
      co_await DisconnectClient(*drained->disconnect);
      co_return;
    }
    if (drained->stop) co_return;
    drained.reset();  // nothing of it is needed while waiting for the next read
    const size_t n = co_await source.ReadInto(decoder);
    if (n == 0) {
      End(from_client ? EndReason::kClientClosed : EndReason::kBrokerClosed);
      co_return;
    }
    env_.counters.Add<metrics::Metric::kBytesTotal>(direction, n);
  }
}

}  // namespace moat::proxy
