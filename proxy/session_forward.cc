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
        denial.audit ? metrics::DenyMode::kAudit : metrics::DenyMode::kEnforce);
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

asio::awaitable<void> Session::ClientToBroker() {
  ForwardBatch batch;
  for (;;) {
    bool stop = false;
    size_t packets = 0;
    for (;;) {
      auto result = client_decoder_.Next();
      if (std::holds_alternative<mqtt::NeedMore>(result)) break;
      if (const auto* error = std::get_if<mqtt::DecodeError>(&result)) {
        // Forward what was accepted before the bad packet; then refuse the rest.
        if (!batch.empty()) co_await WriteTo(broker_gate_, *broker_, batch.buffers());
        CountMalformed(mqtt::Direction::kClientToServer, *error);
        Audit({.event = "malformed",
               .reason = mqtt::DecodeErrorName(*error),
               .detail = "from client"});
        End(EndReason::kMalformedFromClient);
        malformed_ = mqtt::DecodeErrorName(*error);
        co_await DisconnectClient(mqtt::ReasonCodeFor(*error));
        co_return;
      }
      auto& frame = std::get<mqtt::Frame>(result);
      ++packets;
      env_.counters.Add<metrics::Metric::kPacketsTotal>(mqtt::Direction::kClientToServer,
                                                        frame.type);
      if (frame.type == mqtt::PacketType::kAuth) {
        // moat refused every Authentication Method at CONNECT, so re-authentication
        // cannot be what this is [MQTT-4.12.1-1].
        if (!batch.empty()) co_await WriteTo(broker_gate_, *broker_, batch.buffers());
        End(EndReason::kRefused);
        refusal_ = policy::AuthFailureName(policy::AuthFailure::kUnsupportedAuthMethod);
        co_await DisconnectClient(ReasonCode::kBadAuthenticationMethod);
        co_return;
      }
      Outcome outcome = enforcer_->FromClient(frame, *env_.authorizer);
      RecordDenials(outcome.denials);
      if (outcome.disconnect) {
        if (!batch.empty()) co_await WriteTo(broker_gate_, *broker_, batch.buffers());
        End(EndReason::kRefused);
        co_await DisconnectClient(*outcome.disconnect);
        co_return;
      }
      if (!outcome.answer.empty()) co_await WriteBytes(client_gate_, *client_, outcome.answer);
      if (outcome.forward_raw) {
        batch.Add(frame.raw);
      } else if (!outcome.forward_rewritten.empty()) {
        batch.AddOwned(std::move(outcome.forward_rewritten));
      }
      if (frame.type == mqtt::PacketType::kDisconnect) {
        End(EndReason::kClientDisconnected);
        stop = true;
        break;
      }
    }
    if (packets > 0) ClientActive();
    if (!batch.empty()) {
      co_await WriteTo(broker_gate_, *broker_, batch.buffers());
      batch.Clear();
    }
    if (stop) co_return;
    const size_t n = co_await client_->ReadInto(client_decoder_);
    if (n == 0) {
      End(EndReason::kClientClosed);
      co_return;
    }
    env_.counters.Add<metrics::Metric::kBytesTotal>(mqtt::Direction::kClientToServer, n);
  }
}

asio::awaitable<void> Session::BrokerToClient() {
  ForwardBatch batch;
  for (;;) {
    bool stop = false;
    for (;;) {
      auto result = broker_decoder_.Next();
      if (std::holds_alternative<mqtt::NeedMore>(result)) break;
      if (std::holds_alternative<mqtt::DecodeError>(result)) {
        // A broker moat cannot parse is not trusted with the client any longer.
        if (!batch.empty()) co_await WriteTo(client_gate_, *client_, batch.buffers());
        CountMalformed(mqtt::Direction::kServerToClient, std::get<mqtt::DecodeError>(result));
        Audit({.event = "malformed",
               .reason = mqtt::DecodeErrorName(std::get<mqtt::DecodeError>(result)),
               .detail = "from broker"});
        End(EndReason::kMalformedFromBroker);
        malformed_ = mqtt::DecodeErrorName(std::get<mqtt::DecodeError>(result));
        co_await DisconnectClient(ReasonCode::kImplementationSpecificError);
        co_return;
      }
      auto& frame = std::get<mqtt::Frame>(result);
      env_.counters.Add<metrics::Metric::kPacketsTotal>(mqtt::Direction::kServerToClient,
                                                        frame.type);
      if (const auto* connack = std::get_if<mqtt::Connack>(&frame.packet)) {
        // The keep-alive moat enforces is the one the broker granted [MQTT-3.2.2-21].
        if (auto server_keep_alive =
                connack->properties.Integer(mqtt::PropertyId::kServerKeepAlive)) {
          keep_alive_ = std::chrono::seconds(*server_keep_alive);
        }
      }
      Outcome outcome = enforcer_->FromBroker(frame, *env_.authorizer);
      RecordDenials(outcome.denials);
      if (outcome.disconnect) {
        if (!batch.empty()) co_await WriteTo(client_gate_, *client_, batch.buffers());
        End(EndReason::kMalformedFromBroker);
        co_await DisconnectClient(*outcome.disconnect);
        co_return;
      }
      if (!outcome.answer.empty()) co_await WriteBytes(broker_gate_, *broker_, outcome.answer);
      if (outcome.forward_raw) {
        batch.Add(frame.raw);
      } else if (!outcome.forward_rewritten.empty()) {
        batch.AddOwned(std::move(outcome.forward_rewritten));
      }
      if (frame.type == mqtt::PacketType::kDisconnect) {
        stop = true;
        break;
      }
    }
    if (!batch.empty()) {
      co_await WriteTo(client_gate_, *client_, batch.buffers());
      batch.Clear();
    }
    if (stop) {
      End(EndReason::kBrokerClosed);
      co_return;
    }
    const size_t n = co_await broker_->ReadInto(broker_decoder_);
    if (n == 0) {
      End(EndReason::kBrokerClosed);
      co_return;
    }
    env_.counters.Add<metrics::Metric::kBytesTotal>(mqtt::Direction::kServerToClient, n);
  }
}

}  // namespace moat::proxy
