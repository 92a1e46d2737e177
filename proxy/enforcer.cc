#include "proxy/enforcer.h"

#include <algorithm>
#include <type_traits>

#include "policy/rule_labels.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/topic_quota.h"

namespace moat::proxy {

using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

namespace {

std::optional<uint16_t> TopicAlias(const mqtt::Publish& publish) {
  if (auto alias = publish.properties.Integer(mqtt::PropertyId::kTopicAlias)) {
    return static_cast<uint16_t>(*alias);
  }
  return std::nullopt;
}

}  // namespace

struct Enforcer::AliasTable {
  std::unordered_map<uint16_t, std::string> topics;
  std::set<uint16_t> known_by_receiver;
};

struct Enforcer::Rare {
  AliasTable client_aliases;
  AliasTable broker_aliases;
  std::set<uint16_t> client_qos2_answered;  // denied client PUBLISHes moat PUBREC'd
  std::set<uint16_t> broker_qos2_answered;  // withheld deliveries moat PUBREC'd
  // SUBSCRIBE or UNSUBSCRIBE packet id (one id space while in flight) -> for each
  // requested filter, the code moat answers for it (nullopt: the broker's code, in order).
  std::map<uint16_t, std::vector<std::optional<uint8_t>>> pending_acks;
  size_t pending_ack_bytes = 0;         // PendingAckCost() of each entry, summed
  std::set<uint16_t> own_unsubscribes;  // packet ids of UNSUBSCRIBEs moat sent itself
};

namespace {

// What one merged ack moat waits for holds: its codes, and its map node and vector.
size_t PendingAckCost(size_t codes) { return codes * sizeof(std::optional<uint8_t>) + 96; }

// moat's bookkeeping for narrowed SUBSCRIBEs and UNSUBSCRIBEs the broker has not answered.
// Each answer comes within a round trip unless the client does not read its SUBACKs (they
// queue behind what it does not take): without a cap, 65,536 packet ids of 1,000 codes
// would be 128 MiB. A client pipelining 1,000 narrowed one-filter SUBSCRIBEs needs 100 KiB.
constexpr size_t kMaxPendingAckBytes = 256 * 1024;

}  // namespace

Enforcer::Enforcer(Enforcer&&) noexcept = default;
Enforcer::~Enforcer() = default;

Enforcer::Rare& Enforcer::rare() {
  if (!rare_) rare_ = std::make_unique<Rare>();
  return *rare_;
}

Enforcer::Enforcer(const policy::ClientIdentity& identity, const mqtt::Connect& connect,
                   config::DeniedPublish on_denied_publish)
    : identity_(identity),
      version_(connect.version),
      on_denied_publish_(on_denied_publish),
      asked_keep_alive_(connect.keep_alive) {
  if (auto maximum = connect.properties.Integer(mqtt::PropertyId::kTopicAliasMaximum)) {
    broker_alias_maximum_ = static_cast<uint16_t>(*maximum);
  }
}

void Enforcer::Encode(const mqtt::Packet& packet, std::vector<uint8_t>& out) const {
  mqtt::Encode(packet, version_, out);
}

uint8_t Enforcer::FilterRefusalCode(ReasonCode v5_code) const {
  return version_ == ProtocolVersion::kV5 ? static_cast<uint8_t>(v5_code) : 0x80;  // Failure
}

std::optional<ReasonCode> Enforcer::ResolveTopic(const mqtt::Publish& publish,
                                                 AliasTable Rare::*table, uint16_t alias_maximum,
                                                 std::string& topic) {
  const std::optional<uint16_t> alias = TopicAlias(publish);
  if (!alias) {
    topic = std::string(publish.topic);
    return std::nullopt;
  }
  AliasTable& aliases = rare().*table;
  if (*alias > alias_maximum) return ReasonCode::kTopicAliasInvalid;  // [MQTT-3.3.2-9]
  if (!publish.topic.empty()) {
    topic = std::string(publish.topic);
    // A client's topic over limits.max_topic_length is refused now and whenever its alias
    // is used: one byte past the limit says so as well as the whole topic, and up to 65,535
    // aliases of 64 KiB topics cannot pile up.
    const size_t kept = table == &Rare::client_aliases
                            ? std::min<size_t>(topic.size(), quotas_->max_topic_length + size_t{1})
                            : topic.size();
    aliases.topics[*alias] = topic.substr(0, kept);
    aliases.known_by_receiver.erase(*alias);
    return std::nullopt;
  }
  const auto it = aliases.topics.find(*alias);
  if (it == aliases.topics.end()) return ReasonCode::kProtocolError;  // alias never set
  topic = it->second;
  return std::nullopt;
}

void Enforcer::ForwardPublish(const mqtt::Frame& frame, const mqtt::Publish& publish,
                              const std::string& topic, AliasTable Rare::*table, Outcome& outcome) {
  const std::optional<uint16_t> alias = TopicAlias(publish);
  if (!alias) {
    outcome.forward_raw = true;
    return;
  }
  AliasTable& aliases = rare().*table;
  if (publish.topic.empty() && !aliases.known_by_receiver.contains(*alias)) {
    // The receiver never saw the PUBLISH that set this alias (moat withheld it): send
    // the topic along, which also teaches the receiver the alias.
    mqtt::Publish with_topic = publish;
    with_topic.topic = topic;
    Encode(with_topic, outcome.forward_rewritten);
  } else {
    outcome.forward_raw = true;
  }
  aliases.known_by_receiver.insert(*alias);
  (void)frame;
}

Outcome Enforcer::FromClient(const mqtt::Frame& frame, const policy::Authorizer& authorizer) {
  switch (frame.type) {
    case mqtt::PacketType::kPublish:
      return PublishFromClient(frame, authorizer);
    case mqtt::PacketType::kSubscribe:
      return SubscribeFromClient(frame, authorizer);
    case mqtt::PacketType::kPubrel: {
      const auto& pubrel = std::get<mqtt::Pubrel>(frame.packet);
      Outcome outcome;
      if (rare_ && rare_->client_qos2_answered.erase(pubrel.packet_id) > 0) {
        Encode(mqtt::Pubcomp{pubrel.packet_id, 0, {}}, outcome.answer);
      } else {
        outcome.forward_raw = true;
      }
      return outcome;
    }
    case mqtt::PacketType::kAuth: {
      // moat refused every Authentication Method at CONNECT, so re-authentication
      // cannot be what this is [MQTT-4.12.1-1].
      Outcome outcome;
      outcome.disconnect = ReasonCode::kBadAuthenticationMethod;
      return outcome;
    }
    case mqtt::PacketType::kUnsubscribe:
      return UnsubscribeFromClient(frame);
    default:
      break;
  }
  Outcome outcome;
  outcome.forward_raw = true;
  return outcome;
}

Outcome Enforcer::PublishFromClient(const mqtt::Frame& frame,
                                    const policy::Authorizer& authorizer) {
  const auto& publish = std::get<mqtt::Publish>(frame.packet);
  Outcome outcome;
  std::string topic;
  if (auto error = ResolveTopic(publish, &Rare::client_aliases, client_alias_maximum_, topic)) {
    outcome.disconnect = *error;
    return outcome;
  }
  // 0x90: "not malformed, but not accepted by this Server" [MQTT-3.4.2.1], the one
  // PUBACK code that names the topic.
  if (const auto quota = TopicQuotaExceeded(topic, *quotas_); quota != policy::DenyReason::kNone) {
    outcome.denials.push_back(Denial::Quota(policy::Action::kPublish, quota, std::move(topic)));
    RefusePublish(publish, ReasonCode::kTopicNameInvalid, outcome);
    return outcome;
  }
  // The broker's own namespace and shared-subscription syntax are never a client's to
  // publish to, whatever a policy grants; mosquitto refuses them the same way.
  const bool reserved =
      topic.starts_with("$SYS/") || topic == "$SYS" || topic.starts_with("$share/");
  const policy::Decision decision =
      reserved ? policy::Decision{policy::Verdict::kDeny, policy::DenyReason::kDenyRule,
                                  "reserved_topic", false, policy::RuleLabels::kReservedTopic}
               : decisions_.Decide(DecisionCache::Action::kPublish, topic, publish.qos,
                                   publish.retain, identity_, authorizer);
  if (!decision.allowed()) {
    outcome.denials.push_back(Denial::Of(policy::Action::kPublish, decision, topic));
    RefusePublish(publish, ReasonCode::kNotAuthorized, outcome);
    return outcome;
  }
  if (decision.audit)
    outcome.denials.push_back(Denial::Of(policy::Action::kPublish, decision, topic));
  if (publish.payload.size() > decision.max_payload) {
    outcome.denials.push_back(Denial::PayloadOf(decision, topic));
    // 0x97 Quota exceeded: 0x95 Packet too large is no PUBACK or PUBREC code
    // [MQTT-3.4.2.1, 3.5.2.1], and the packet was within every size moat accepts.
    if (!decision.payload_audit) {
      RefusePublish(publish, ReasonCode::kQuotaExceeded, outcome);
      return outcome;
    }
  }
  // A rule without `payload:` leaves kAny, and this one comparison is all it costs.
  if (decision.payload_format != policy::PayloadFormat::kAny &&
      !policy::PayloadMatches(decision.payload_format, publish.payload)) {
    outcome.denials.push_back(Denial::FormatOf(decision, topic));
    // 0x99 Payload format invalid is a PUBACK and PUBREC code [MQTT-3.4.2.1, 3.5.2.1].
    if (!decision.format_audit) {
      RefusePublish(publish, ReasonCode::kPayloadFormatInvalid, outcome);
      return outcome;
    }
  }
  if (!TakeInflight(publish)) {
    outcome.denials.push_back(
        Denial::Quota(policy::Action::kPublish, policy::DenyReason::kInflightLimit, topic));
    outcome.disconnect = ReasonCode::kReceiveMaximumExceeded;  // [MQTT-3.3.4-9]
    return outcome;
  }
  ForwardPublish(frame, publish, topic, &Rare::client_aliases, outcome);
  return outcome;
}

bool Enforcer::TakeInflight(const mqtt::Publish& publish) {
  if (publish.qos == 0) return true;
  // A QoS 2 retransmission (DUP) is answered by the broker's one PUBCOMP with the first
  // attempt, so counting it would leak a slot; QoS 1 duplicates are each PUBACKed.
  if (publish.qos == 2 && publish.dup) return true;
  return ++inflight_ <= quotas_->max_inflight;
}

void Enforcer::RefusePublish(const mqtt::Publish& publish, ReasonCode v5_code, Outcome& outcome) {
  if (version_ != ProtocolVersion::kV5 &&
      on_denied_publish_ == config::DeniedPublish::kDisconnect) {
    outcome.disconnect = ReasonCode::kNotAuthorized;
    return;
  }
  // MQTT 5 says why; before it, the flow is completed as if the message were accepted,
  // as mosquitto does, so the client neither retries forever nor learns anything.
  const uint8_t code = version_ == ProtocolVersion::kV5 ? static_cast<uint8_t>(v5_code) : 0;
  if (publish.qos == 1) {
    Encode(mqtt::Puback{publish.packet_id, code, {}}, outcome.answer);
  } else if (publish.qos == 2) {
    Encode(mqtt::Pubrec{publish.packet_id, code, {}}, outcome.answer);
    // An MQTT 5 PUBREC with an error ends the flow; before 5 a PUBREL follows.
    if (code == 0) rare().client_qos2_answered.insert(publish.packet_id);
  }
}

std::optional<Outcome> Enforcer::TooManyFilters(policy::Action action, size_t filters) const {
  if (filters <= quotas_->max_filters_per_subscribe) return std::nullopt;
  // The whole packet, before any filter is judged: what one packet may cost the I/O
  // thread stays bounded, and a client that batches this much is not one to humour.
  Outcome outcome;
  outcome.denials.push_back(Denial::Quota(action, policy::DenyReason::kSubscribeFilters, {}));
  outcome.disconnect = ReasonCode::kQuotaExceeded;
  return outcome;
}

Outcome Enforcer::SubscribeFromClient(const mqtt::Frame& frame,
                                      const policy::Authorizer& authorizer) {
  const auto& subscribe = std::get<mqtt::Subscribe>(frame.packet);
  if (auto refused = TooManyFilters(policy::Action::kSubscribe, subscribe.subscriptions.size())) {
    return std::move(*refused);
  }
  Outcome outcome;
  std::vector<std::optional<uint8_t>> codes;
  std::vector<Denial> audited;
  mqtt::Subscribe granted{subscribe.packet_id, subscribe.properties, {}};
  bool downgraded = false;
  for (const mqtt::Subscription& subscription : subscribe.subscriptions) {
    const auto refuse = [&](ReasonCode v5_code, const policy::Decision& decision) {
      codes.push_back(FilterRefusalCode(v5_code));
      outcome.denials.push_back(
          Denial::Of(policy::Action::kSubscribe, decision, std::string(subscription.filter)));
    };
    if (const auto quota = TopicQuotaExceeded(subscription.filter, *quotas_);
        quota != policy::DenyReason::kNone) {
      refuse(ReasonCode::kTopicFilterInvalid, QuotaDecision(quota));
      continue;
    }
    const policy::Decision decision =
        authorizer.MaySubscribe(identity_, subscription.filter, subscription.qos);
    if (!decision.allowed()) {
      refuse(ReasonCode::kNotAuthorized, decision);
      continue;
    }
    // Granting a filter again replaces its subscription [MQTT-3.8.4-3]: only a new one
    // counts.
    if (granted_filters_.size() >= quotas_->max_subscriptions &&
        !granted_filters_.contains(subscription.filter)) {
      refuse(ReasonCode::kQuotaExceeded, QuotaDecision(policy::DenyReason::kSubscriptionLimit));
      continue;
    }
    // A filter granted only because the deny inside it is in audit mode is one the
    // enforcing policy would refuse: counted now, and its deliveries at delivery.
    if (decision.audit) {
      audited.push_back(
          Denial::Of(policy::Action::kSubscribe, decision, std::string(subscription.filter)));
    }
    codes.push_back(std::nullopt);
    granted.subscriptions.push_back(subscription);
    // The broker then grants (and delivers) no more than the rules allow.
    if (decision.max_qos < subscription.qos) {
      granted.subscriptions.back().qos = decision.max_qos;
      downgraded = true;
    }
    if (decision.partial) ++outcome.partial_subscriptions;
    granted_filters_[std::string(subscription.filter)] = granted.subscriptions.back().qos;
  }
  const bool any_denied = !outcome.denials.empty();
  for (Denial& denial : audited) outcome.denials.push_back(std::move(denial));
  Narrowed<mqtt::Suback>(granted, granted.subscriptions.size(), std::move(codes),
                         any_denied || downgraded, outcome);
  return outcome;
}

Outcome Enforcer::UnsubscribeFromClient(const mqtt::Frame& frame) {
  const auto& unsubscribe = std::get<mqtt::Unsubscribe>(frame.packet);
  if (auto refused = TooManyFilters(policy::Action::kSubscribe, unsubscribe.filters.size())) {
    return std::move(*refused);
  }
  Outcome outcome;
  std::vector<std::optional<uint8_t>> codes;
  mqtt::Unsubscribe kept{unsubscribe.packet_id, unsubscribe.properties, {}};
  for (std::string_view filter : unsubscribe.filters) {
    // A filter over the limits was never granted: the broker need not look for it.
    if (const auto quota = TopicQuotaExceeded(filter, *quotas_);
        quota != policy::DenyReason::kNone) {
      codes.push_back(static_cast<uint8_t>(ReasonCode::kTopicFilterInvalid));
      outcome.denials.push_back(
          Denial::Quota(policy::Action::kSubscribe, quota, std::string(filter)));
      continue;
    }
    codes.push_back(std::nullopt);
    kept.filters.push_back(filter);
    const auto it = granted_filters_.find(filter);
    if (it != granted_filters_.end()) granted_filters_.erase(it);
  }
  Narrowed<mqtt::Unsuback>(kept, kept.filters.size(), std::move(codes), !outcome.denials.empty(),
                           outcome);
  return outcome;
}

template <typename Ack, typename Request>
void Enforcer::Narrowed(const Request& kept, size_t kept_filters,
                        std::vector<std::optional<uint8_t>> codes, bool changed, Outcome& outcome) {
  if (!changed) {
    outcome.forward_raw = true;
  } else if (kept_filters == 0) {
    // Nothing to ask the broker: moat answers, under the client's packet identifier
    // (a 3.1.1 UNSUBACK has no codes: the encoder leaves them out).
    Ack ack{kept.packet_id, {}, {}};
    for (const auto& code : codes) ack.reason_codes.push_back(*code);
    Encode(ack, outcome.answer);
  } else {
    Encode(kept, outcome.forward_rewritten);
    // The broker's answer is merged with moat's codes, unless it has none (3.1.1 UNSUBACK).
    if (std::is_same_v<Ack, mqtt::Suback> || version_ == ProtocolVersion::kV5) {
      Rare& rare = this->rare();
      auto& pending = rare.pending_acks[kept.packet_id];
      if (!pending.empty()) rare.pending_ack_bytes -= PendingAckCost(pending.size());
      if (rare.pending_ack_bytes + PendingAckCost(codes.size()) > kMaxPendingAckBytes) {
        rare.pending_acks.erase(kept.packet_id);
        outcome.forward_rewritten.clear();
        outcome.denials.push_back(
            Denial::Quota(policy::Action::kSubscribe, policy::DenyReason::kSubscribeFilters, {}));
        outcome.disconnect = ReasonCode::kQuotaExceeded;
        return;
      }
      rare.pending_ack_bytes += PendingAckCost(codes.size());
      pending = std::move(codes);
    }
  }
}

Outcome Enforcer::FromBroker(const mqtt::Frame& frame, const policy::Authorizer& authorizer) {
  Outcome outcome;
  switch (frame.type) {
    case mqtt::PacketType::kPublish:
      return PublishFromBroker(frame, authorizer);
    case mqtt::PacketType::kSuback:
      return AckFromBroker<mqtt::Suback>(frame);
    case mqtt::PacketType::kConnack:
      return ConnackFromBroker(frame);
    case mqtt::PacketType::kPubrel: {
      const auto& pubrel = std::get<mqtt::Pubrel>(frame.packet);
      if (rare_ && rare_->broker_qos2_answered.erase(pubrel.packet_id) > 0) {
        Encode(mqtt::Pubcomp{pubrel.packet_id, 0, {}}, outcome.answer);
        return outcome;
      }
      break;
    }
    case mqtt::PacketType::kUnsuback: {
      // The answer to an UNSUBSCRIBE moat sent on the client's behalf stays with moat.
      if (rare_ &&
          rare_->own_unsubscribes.erase(std::get<mqtt::Unsuback>(frame.packet).packet_id) > 0) {
        return outcome;
      }
      return AckFromBroker<mqtt::Unsuback>(frame);
    }
    // The end of one of the client's QoS 1/2 flows: its in-flight slot is free again. A
    // flow begun on an earlier connection of the session was never counted on this one.
    case mqtt::PacketType::kPuback:
    case mqtt::PacketType::kPubcomp:
      if (inflight_ > 0) --inflight_;
      break;
    case mqtt::PacketType::kPubrec:
      // A PUBREC with an error ends the flow there [MQTT-4.3.3]; else a PUBCOMP will.
      if (inflight_ > 0 && std::get<mqtt::Pubrec>(frame.packet).reason_code >= 0x80) --inflight_;
      break;
    default:
      break;
  }
  outcome.forward_raw = true;
  return outcome;
}

Outcome Enforcer::PublishFromBroker(const mqtt::Frame& frame,
                                    const policy::Authorizer& authorizer) {
  const auto& publish = std::get<mqtt::Publish>(frame.packet);
  Outcome outcome;
  std::string topic;
  if (auto error = ResolveTopic(publish, &Rare::broker_aliases, broker_alias_maximum_, topic)) {
    outcome.disconnect = ReasonCode::kImplementationSpecificError;  // the broker erred
    return outcome;
  }
  const policy::Decision decision =
      decisions_.Decide(DecisionCache::Action::kReceive, topic, 0, false, identity_, authorizer);
  if (decision.allowed()) {
    if (decision.audit)
      outcome.denials.push_back(Denial::Of(policy::Action::kDeliver, decision, topic));
    ForwardPublish(frame, publish, topic, &Rare::broker_aliases, outcome);
    return outcome;
  }
  outcome.denials.push_back(Denial::Of(policy::Action::kDeliver, decision, topic));
  // Withheld, but acknowledged to the broker so its session for the client does not
  // stall waiting for an answer that would never come.
  if (publish.qos == 1) {
    Encode(mqtt::Puback{publish.packet_id, 0, {}}, outcome.answer);
  } else if (publish.qos == 2) {
    Encode(mqtt::Pubrec{publish.packet_id, 0, {}}, outcome.answer);
    rare().broker_qos2_answered.insert(publish.packet_id);
  }
  return outcome;
}

Outcome Enforcer::ConnackFromBroker(const mqtt::Frame& frame) {
  const auto& connack = std::get<mqtt::Connack>(frame.packet);
  Outcome outcome;
  if (auto maximum = connack.properties.Integer(mqtt::PropertyId::kTopicAliasMaximum)) {
    client_alias_maximum_ = static_cast<uint16_t>(*maximum);
  }
  const auto granted = connack.properties.Integer(mqtt::PropertyId::kServerKeepAlive);
  // The broker's Server Keep Alive is what the client keeps, unless it exceeds the cap.
  const auto wanted = granted ? static_cast<uint16_t>(*granted) : asked_keep_alive_;
  const uint16_t keep_alive = CappedKeepAlive(wanted, max_keep_alive_);
  if (granted || keep_alive != asked_keep_alive_) outcome.server_keep_alive = keep_alive;
  // The client may have no more QoS 1/2 PUBLISHes unanswered than moat allows or the
  // broker does, whichever is less [MQTT-3.2.2.3.3]; 65,535 when the broker says nothing.
  const auto broker_receive = connack.properties.Integer(mqtt::PropertyId::kReceiveMaximum);
  const uint32_t receive =
      std::min<uint32_t>(quotas_->max_inflight, broker_receive.value_or(65535));
  const bool tell_receive = connack.reason_code < 0x80 && receive != broker_receive.value_or(65535);
  if (version_ == ProtocolVersion::kV5 && (keep_alive != wanted || tell_receive)) {
    mqtt::Connack told = connack;
    if (keep_alive != wanted) {
      told.properties.Remove(mqtt::PropertyId::kServerKeepAlive);
      told.properties.AddInteger(mqtt::PropertyId::kServerKeepAlive, keep_alive);
    }
    if (tell_receive) {
      told.properties.Remove(mqtt::PropertyId::kReceiveMaximum);
      told.properties.AddInteger(mqtt::PropertyId::kReceiveMaximum, receive);
    }
    Encode(told, outcome.forward_rewritten);
  } else {
    outcome.forward_raw = true;
  }
  return outcome;
}

template <typename Ack>
Outcome Enforcer::AckFromBroker(const mqtt::Frame& frame) {
  const auto& ack = std::get<Ack>(frame.packet);
  Outcome outcome;
  const auto it = rare_ ? rare_->pending_acks.find(ack.packet_id)
                        : typename decltype(rare_->pending_acks)::iterator{};
  if (!rare_ || it == rare_->pending_acks.end()) {
    outcome.forward_raw = true;
    return outcome;
  }
  // One answer, in the client's order: the broker's codes for the filters it saw,
  // moat's refusals for the others.
  Ack merged{ack.packet_id, ack.properties, {}};
  size_t next_from_broker = 0;
  for (const auto& code : it->second) {
    if (code) {
      merged.reason_codes.push_back(*code);
    } else if (next_from_broker < ack.reason_codes.size()) {
      merged.reason_codes.push_back(ack.reason_codes[next_from_broker++]);
    } else {
      merged.reason_codes.push_back(0x80);  // the broker answered fewer than it was asked
    }
  }
  rare_->pending_ack_bytes -= PendingAckCost(it->second.size());
  rare_->pending_acks.erase(it);
  Encode(merged, outcome.forward_rewritten);
  return outcome;
}

std::vector<uint8_t> Enforcer::RevokeSubscriptions(const policy::Authorizer& authorizer) {
  mqtt::Unsubscribe unsubscribe;
  std::vector<std::string> revoked;
  for (auto it = granted_filters_.begin(); it != granted_filters_.end();) {
    if (authorizer.MaySubscribe(identity_, it->first, it->second).allowed()) {
      ++it;
      continue;
    }
    revoked.push_back(it->first);
    it = granted_filters_.erase(it);
  }
  std::vector<uint8_t> bytes;
  if (revoked.empty()) return bytes;
  // moat's own packet ids count down from the top, where clients rarely reach.
  unsubscribe.packet_id = next_own_packet_id_--;
  if (next_own_packet_id_ == 0) next_own_packet_id_ = 0xFFFF;
  for (const std::string& filter : revoked) unsubscribe.filters.push_back(filter);
  Encode(unsubscribe, bytes);
  rare().own_unsubscribes.insert(unsubscribe.packet_id);
  return bytes;
}

}  // namespace moat::proxy
