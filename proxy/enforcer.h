// What moat does with each packet, in each direction, once the codec has parsed it:
// forward it as it came, answer it itself, rewrite it, drop it, or end the session.
// Sans-IO: the session does the writing, so every rule here is unit-tested without
// sockets.
//
//   client ──frame──► FromClient ──► to_broker (raw or rewritten) / to_client (answer)
//   broker ──frame──► FromBroker ──► to_client (raw or rewritten) / to_broker (answer)
//
// State it keeps, all bounded by what the peers may have in flight:
//  - topic aliases in both directions, so an alias-only PUBLISH is judged on the topic
//    it really means (and rewritten with its topic when the receiver never saw the
//    PUBLISH that set the alias, because moat withheld it);
//  - QoS 2 flows moat completed itself (a denied PUBLISH's PUBREL is answered, never
//    forwarded to a peer that does not know its packet id);
//  - SUBSCRIBEs and UNSUBSCRIBEs forwarded with some filters removed, whose SUBACK or
//    UNSUBACK it must merge;
//  - the filters granted so far, to re-check them when the policy changes and to hold
//    the session to limits.max_subscriptions;
//  - a count of the client's QoS 1/2 PUBLISHes the broker has not answered yet
//    (limits.max_inflight);
//  - the last PUBLISH and delivery decisions (DecisionCache, at most 16 KiB).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/authorizer.h"
#include "proxy/config/config.h"
#include "proxy/decision_cache.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/packet.h"

namespace moat::proxy {

struct Denial {
  policy::Action action;
  policy::DenyReason reason;
  std::string_view rule;
  std::string topic;
  bool audit = false;       // would have been denied; let through in audit mode
  uint16_t rule_label = 0;  // policy::Decision::rule_label: moat_denials_total{rule}

  // What `decision` (a deny, or an audit-mode allow) refused or would have.
  static Denial Of(policy::Action action, const policy::Decision& decision, std::string topic) {
    return {action,           decision.reason, decision.rule,
            std::move(topic), decision.audit,  decision.rule_label};
  }
  // A PUBLISH over the max_payload of the rules that grant it.
  static Denial PayloadOf(const policy::Decision& decision, std::string topic) {
    return {policy::Action::kPublish, policy::DenyReason::kPayloadLimit,
            decision.payload_rule,    std::move(topic),
            decision.payload_audit,   decision.payload_label};
  }
  // A PUBLISH whose payload is not the format the rules that grant it require.
  static Denial FormatOf(const policy::Decision& decision, std::string topic) {
    return {policy::Action::kPublish,
            policy::DenyReason::kPayloadFormat,
            decision.rule,
            std::move(topic),
            decision.format_audit,
            decision.format_label};
  }
  // A session quota under `limits`: no rule decides it.
  static Denial Quota(policy::Action action, policy::DenyReason reason, std::string topic) {
    return {action, reason, {}, std::move(topic)};
  }
};

struct Outcome {
  bool forward_raw = false;                    // send the frame on as it came
  std::vector<uint8_t> forward_rewritten;      // or these bytes instead
  std::vector<uint8_t> answer;                 // bytes back to the sender
  std::optional<mqtt::ReasonCode> disconnect;  // end the session (MQTT 5: with this code)
  std::vector<Denial> denials;                 // for metrics and the audit log
  // SUBSCRIBE filters granted although part of what they match is withheld (counted).
  uint16_t partial_subscriptions = 0;
  // The broker's CONNACK set the keep-alive the client must keep (Server Keep Alive).
  std::optional<uint16_t> server_keep_alive;
};

class Enforcer {
 public:
  Enforcer(const policy::ClientIdentity& identity, const mqtt::Connect& connect,
           config::DeniedPublish on_denied_publish);
  Enforcer(Enforcer&&) noexcept;
  ~Enforcer();

  // A packet `from` one peer: FromClient or FromBroker.
  Outcome Judge(mqtt::Direction from, const mqtt::Frame& frame,
                const policy::Authorizer& authorizer) {
    return from == mqtt::Direction::kClientToServer ? FromClient(frame, authorizer)
                                                    : FromBroker(frame, authorizer);
  }
  Outcome FromClient(const mqtt::Frame& frame, const policy::Authorizer& authorizer);
  Outcome FromBroker(const mqtt::Frame& frame, const policy::Authorizer& authorizer);

  // limits.max_keepalive: an MQTT 5 client that asked for no keep-alive, or a longer
  // one, is told this one in the CONNACK (Server Keep Alive) [MQTT-3.2.2-21].
  void set_max_keep_alive(uint16_t seconds) { max_keep_alive_ = seconds; }
  // Shared by every session: `quotas` (the config's) must outlive the Enforcer.
  void set_quotas(const config::SessionQuotas& quotas) { quotas_ = &quotas; }
  // policy.on_denied_publish after a reload: it goes with the policy, for live sessions too.
  void set_on_denied_publish(config::DeniedPublish value) { on_denied_publish_ = value; }
  // The filters granted so far and their QoS, for the admin API's session list.
  const std::map<std::string, uint8_t, std::less<>>& granted_filters() const {
    return granted_filters_;
  }
  // The keep-alive the client must keep under that cap, before the broker says anything.
  static uint16_t CappedKeepAlive(uint16_t asked, uint16_t cap) {
    return cap > 0 && (asked == 0 || asked > cap) ? cap : asked;
  }

  // After a policy reload: the granted filters the new policy refuses, as one
  // UNSUBSCRIBE for the broker (empty when nothing changed). Delivery checks already
  // stop their messages; this stops the broker from sending them at all.
  std::vector<uint8_t> RevokeSubscriptions(const policy::Authorizer& authorizer);

 private:
  static constexpr config::SessionQuotas kDefaultQuotas{};
  struct AliasTable;
  // What only some sessions ever need (topic aliases, QoS 2 flows moat completed, merged
  // SUBACKs, its own UNSUBSCRIBEs): made on first use, so an idle session holds a pointer
  // rather than a dozen empty containers.
  struct Rare;
  Rare& rare();
  // The topic a PUBLISH means, or a reason code to disconnect with. `aliases` is the
  // direction's table in Rare, looked at only when the PUBLISH carries an alias.
  std::optional<mqtt::ReasonCode> ResolveTopic(const mqtt::Publish& publish,
                                               AliasTable Rare::*aliases, uint16_t alias_maximum,
                                               std::string& topic);
  void ForwardPublish(const mqtt::Frame& frame, const mqtt::Publish& publish,
                      const std::string& topic, AliasTable Rare::*aliases, Outcome& outcome);
  Outcome PublishFromClient(const mqtt::Frame& frame, const policy::Authorizer& authorizer);
  // Answers a refused PUBLISH as its version allows: MQTT 5 with `v5_code`.
  void RefusePublish(const mqtt::Publish& publish, mqtt::ReasonCode v5_code, Outcome& outcome);
  // A QoS 1/2 PUBLISH about to go to the broker: false if it is one more than
  // limits.max_inflight allows.
  bool TakeInflight(const mqtt::Publish& publish);
  Outcome SubscribeFromClient(const mqtt::Frame& frame, const policy::Authorizer& authorizer);
  Outcome UnsubscribeFromClient(const mqtt::Frame& frame);
  // A SUBSCRIBE or UNSUBSCRIBE as `kept`, with `kept_filters` of the client's filters and
  // `codes` for all of them (nullopt: the broker's): forwarded as it came (nothing
  // `changed`), answered by moat (no filter kept), or forwarded narrowed, the broker's
  // SUBACK/UNSUBACK to be merged in AckFromBroker().
  template <typename Ack, typename Request>
  void Narrowed(const Request& kept, size_t kept_filters, std::vector<std::optional<uint8_t>> codes,
                bool changed, Outcome& outcome);
  // A SUBSCRIBE or UNSUBSCRIBE with more filters than limits.max_filters_per_subscribe.
  std::optional<Outcome> TooManyFilters(policy::Action action, size_t filters) const;
  Outcome PublishFromBroker(const mqtt::Frame& frame, const policy::Authorizer& authorizer);
  // A SUBACK or UNSUBACK: merged with moat's own codes if moat removed filters.
  template <typename Ack>
  Outcome AckFromBroker(const mqtt::Frame& frame);
  Outcome ConnackFromBroker(const mqtt::Frame& frame);
  void Encode(const mqtt::Packet& packet, std::vector<uint8_t>& out) const;
  // A refused filter's SUBACK/UNSUBACK code: `v5_code` for MQTT 5, 0x80 for a 3.1.1 SUBACK.
  uint8_t FilterRefusalCode(mqtt::ReasonCode v5_code) const;

  const policy::ClientIdentity& identity_;
  const mqtt::ProtocolVersion version_;
  config::DeniedPublish on_denied_publish_;  // a reload may change it
  const uint16_t asked_keep_alive_;          // the CONNECT's
  uint16_t max_keep_alive_ = 0;              // 0: no cap
  uint16_t client_alias_maximum_ = 0;        // from the broker's CONNACK
  uint16_t broker_alias_maximum_ = 0;        // from the client's CONNECT
  uint32_t inflight_ = 0;                    // QoS 1/2 PUBLISHes the broker has not answered
  const config::SessionQuotas* quotas_ = &kDefaultQuotas;
  std::unique_ptr<Rare> rare_;
  std::map<std::string, uint8_t, std::less<>> granted_filters_;  // filter -> QoS
  uint16_t next_own_packet_id_ = 0xFFFF;
  DecisionCache decisions_;
};

}  // namespace moat::proxy
