#include "proxy/enforcer.h"

#include "policy/rule_labels.h"
#include "proxy/mqtt/encoder.h"

namespace moat::proxy {

using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

namespace {

constexpr uint8_t kNotAuthorized = static_cast<uint8_t>(ReasonCode::kNotAuthorized);

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
  // SUBSCRIBE packet id -> for each requested filter, the code moat answers for it
  // (nullopt: the broker's code, in order).
  std::map<uint16_t, std::vector<std::optional<uint8_t>>> pending_subacks;
  std::set<uint16_t> own_unsubscribes;  // packet ids of UNSUBSCRIBEs moat sent itself
};

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

uint8_t Enforcer::DeniedSubscriptionCode() const {
  return version_ == ProtocolVersion::kV5 ? kNotAuthorized : 0x80;  // 0x80: Failure
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
    aliases.topics[*alias] = topic;
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

policy::Decision Enforcer::CachedDecision(char action, std::string_view topic, uint8_t qos,
                                          bool retain, const policy::Authorizer& authorizer) {
  constexpr size_t kMaxCachedDecisions = 64;
  if (decisions_from_ != &authorizer || decisions_version_ != authorizer.version()) {
    decisions_.clear();
    decisions_from_ = &authorizer;
    decisions_version_ = authorizer.version();
  }
  std::string key;
  key.reserve(topic.size() + 3);
  key.push_back(action);
  key.push_back(static_cast<char>('0' + qos));
  key.push_back(retain ? 'r' : '-');
  key.append(topic);
  if (const auto it = decisions_.find(key); it != decisions_.end()) return it->second;
  const policy::Decision decision = action == 'p'
                                        ? authorizer.MayPublish(identity_, topic, qos, retain)
                                        : authorizer.MayReceive(identity_, topic);
  if (decisions_.size() >= kMaxCachedDecisions) decisions_.clear();
  decisions_.emplace(std::move(key), decision);
  return decision;
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
    case mqtt::PacketType::kUnsubscribe: {
      for (std::string_view filter : std::get<mqtt::Unsubscribe>(frame.packet).filters) {
        const auto it = granted_filters_.find(filter);
        if (it != granted_filters_.end()) granted_filters_.erase(it);
      }
      break;
    }
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
  // The broker's own namespace and shared-subscription syntax are never a client's to
  // publish to, whatever a policy grants; mosquitto refuses them the same way.
  const bool reserved =
      topic.starts_with("$SYS/") || topic == "$SYS" || topic.starts_with("$share/");
  const policy::Decision decision =
      reserved ? policy::Decision{policy::Verdict::kDeny, policy::DenyReason::kDenyRule,
                                  "reserved_topic", false, policy::RuleLabels::kReservedTopic}
               : CachedDecision('p', topic, publish.qos, publish.retain, authorizer);
  if (decision.allowed()) {
    if (decision.audit)
      outcome.denials.push_back(Denial::Of(policy::Action::kPublish, decision, topic));
    ForwardPublish(frame, publish, topic, &Rare::client_aliases, outcome);
    return outcome;
  }
  outcome.denials.push_back(Denial::Of(policy::Action::kPublish, decision, topic));
  if (version_ != ProtocolVersion::kV5 &&
      on_denied_publish_ == config::DeniedPublish::kDisconnect) {
    outcome.disconnect = ReasonCode::kNotAuthorized;
    return outcome;
  }
  // MQTT 5 says why; before it, the flow is completed as if the message were accepted,
  // as mosquitto does, so the client neither retries forever nor learns anything.
  const uint8_t code = version_ == ProtocolVersion::kV5 ? kNotAuthorized : 0;
  if (publish.qos == 1) {
    Encode(mqtt::Puback{publish.packet_id, code, {}}, outcome.answer);
  } else if (publish.qos == 2) {
    Encode(mqtt::Pubrec{publish.packet_id, code, {}}, outcome.answer);
    // An MQTT 5 PUBREC with an error ends the flow; before 5 a PUBREL follows.
    if (code == 0) rare().client_qos2_answered.insert(publish.packet_id);
  }
  return outcome;
}

Outcome Enforcer::SubscribeFromClient(const mqtt::Frame& frame,
                                      const policy::Authorizer& authorizer) {
  const auto& subscribe = std::get<mqtt::Subscribe>(frame.packet);
  Outcome outcome;
  std::vector<std::optional<uint8_t>> codes;
  std::vector<Denial> audited;
  mqtt::Subscribe granted{subscribe.packet_id, subscribe.properties, {}};
  bool downgraded = false;
  for (const mqtt::Subscription& subscription : subscribe.subscriptions) {
    const policy::Decision decision =
        authorizer.MaySubscribe(identity_, subscription.filter, subscription.qos);
    // A filter granted only because the deny inside it is in audit mode is one the
    // enforcing policy would refuse: counted now, and its deliveries at delivery.
    if (decision.audit) {
      audited.push_back(
          Denial::Of(policy::Action::kSubscribe, decision, std::string(subscription.filter)));
    }
    if (decision.allowed()) {
      codes.push_back(std::nullopt);
      granted.subscriptions.push_back(subscription);
      // The broker then grants (and delivers) no more than the rules allow.
      if (decision.max_qos < subscription.qos) {
        granted.subscriptions.back().qos = decision.max_qos;
        downgraded = true;
      }
      if (decision.partial) ++outcome.partial_subscriptions;
      granted_filters_[std::string(subscription.filter)] = granted.subscriptions.back().qos;
    } else {
      codes.push_back(DeniedSubscriptionCode());
      outcome.denials.push_back(
          Denial::Of(policy::Action::kSubscribe, decision, std::string(subscription.filter)));
    }
  }
  const bool any_denied = !outcome.denials.empty();
  for (Denial& denial : audited) outcome.denials.push_back(std::move(denial));
  if (!any_denied && !downgraded) {
    outcome.forward_raw = true;
  } else if (granted.subscriptions.empty()) {
    // Nothing to ask the broker: moat answers, under the client's packet identifier.
    mqtt::Suback suback{subscribe.packet_id, {}, {}};
    for (const auto& code : codes) suback.reason_codes.push_back(*code);
    Encode(suback, outcome.answer);
  } else {
    Encode(granted, outcome.forward_rewritten);
    rare().pending_subacks[subscribe.packet_id] = std::move(codes);
  }
  return outcome;
}

Outcome Enforcer::FromBroker(const mqtt::Frame& frame, const policy::Authorizer& authorizer) {
  Outcome outcome;
  switch (frame.type) {
    case mqtt::PacketType::kPublish:
      return PublishFromBroker(frame, authorizer);
    case mqtt::PacketType::kSuback:
      return SubackFromBroker(frame);
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
      break;
    }
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
  const policy::Decision decision = CachedDecision('r', topic, 0, false, authorizer);
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
  if (version_ == ProtocolVersion::kV5 && keep_alive != wanted) {
    mqtt::Connack told = connack;
    told.properties.Remove(mqtt::PropertyId::kServerKeepAlive);
    told.properties.AddInteger(mqtt::PropertyId::kServerKeepAlive, keep_alive);
    Encode(told, outcome.forward_rewritten);
  } else {
    outcome.forward_raw = true;
  }
  return outcome;
}

Outcome Enforcer::SubackFromBroker(const mqtt::Frame& frame) {
  const auto& suback = std::get<mqtt::Suback>(frame.packet);
  Outcome outcome;
  const auto it = rare_ ? rare_->pending_subacks.find(suback.packet_id)
                        : decltype(rare_->pending_subacks)::iterator{};
  if (!rare_ || it == rare_->pending_subacks.end()) {
    outcome.forward_raw = true;
    return outcome;
  }
  // One SUBACK, in the client's order: the broker's codes for the filters it saw,
  // moat's refusals for the others.
  mqtt::Suback merged{suback.packet_id, suback.properties, {}};
  size_t next_from_broker = 0;
  for (const auto& code : it->second) {
    if (code) {
      merged.reason_codes.push_back(*code);
    } else if (next_from_broker < suback.reason_codes.size()) {
      merged.reason_codes.push_back(suback.reason_codes[next_from_broker++]);
    } else {
      merged.reason_codes.push_back(0x80);  // the broker answered fewer than it was asked
    }
  }
  rare_->pending_subacks.erase(it);
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
