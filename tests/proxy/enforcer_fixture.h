// The Enforcer under test with a scripted authorizer: packets in, outcomes out, no
// sockets. Shared by the Enforcer's test files.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proxy/enforcer.h"
#include "proxy/mqtt/encoder.h"
#include "tests/proxy/session_fixture.h"

namespace moat::proxy {

using mqtt::Direction;
using mqtt::ProtocolVersion;

class ScriptedAuthorizer : public policy::Authorizer {
 public:
  std::set<std::string, std::less<>> denied_publish, denied_subscribe, denied_receive;
  std::set<std::string, std::less<>> partial_subscribe;
  std::map<std::string, uint8_t, std::less<>> subscribe_max_qos;
  std::map<std::string, uint32_t, std::less<>> max_payload;  // topic -> bytes
  bool payload_audit = false;                                // max_payload is an audit-mode rule's
  std::set<std::string, std::less<>> sparkplug;  // topics whose rule says payload: sparkplug_b
  mutable int calls = 0;
  uint64_t policy_version = 1;
  uint64_t version() const override { return policy_version; }

  policy::Decision AuthorizeConnect(const policy::ClientIdentity&) const override {
    return Allow();
  }
  policy::Decision MayPublish(const policy::ClientIdentity&, std::string_view topic, uint8_t,
                              bool) const override {
    if (denied_publish.contains(topic)) return Deny();
    policy::Decision decision = Allow();
    if (const auto it = max_payload.find(topic); it != max_payload.end()) {
      decision.max_payload = it->second;
      decision.payload_rule = "sensors";
      decision.payload_label = 7;
      decision.payload_audit = payload_audit;
    }
    if (sparkplug.contains(topic)) {
      decision.payload_format = policy::PayloadFormat::kSparkplugB;
      decision.rule = "edge";
      decision.format_label = 8;
    }
    return decision;
  }
  policy::Decision MaySubscribe(const policy::ClientIdentity&, std::string_view filter,
                                uint8_t) const override {
    if (denied_subscribe.contains(filter)) return Deny();
    policy::Decision decision = Allow();
    decision.partial = partial_subscribe.contains(filter);
    if (const auto it = subscribe_max_qos.find(filter); it != subscribe_max_qos.end()) {
      decision.max_qos = it->second;
    }
    return decision;
  }
  policy::Decision MayReceive(const policy::ClientIdentity&,
                              std::string_view topic) const override {
    return denied_receive.contains(topic) ? Deny() : Allow();
  }

 private:
  policy::Decision Allow() const {
    ++calls;
    return {policy::Verdict::kAllow, policy::DenyReason::kNone, ""};
  }
  policy::Decision Deny() const {
    ++calls;
    return {policy::Verdict::kDeny, policy::DenyReason::kDenyRule, "acl:1"};
  }
};

class EnforcerTest : public ::testing::Test {
 protected:
  void Start(ProtocolVersion version, uint16_t topic_alias_maximum = 0,
             config::DeniedPublish action = config::DeniedPublish::kDrop, uint16_t keep_alive = 0) {
    connect_.version = version;
    connect_.keep_alive = keep_alive;
    connect_.client_id = "c";
    if (topic_alias_maximum > 0) {
      connect_.properties.AddInteger(mqtt::PropertyId::kTopicAliasMaximum, topic_alias_maximum);
    }
    enforcer_.emplace(identity_, connect_, action);
    // No Receive Maximum of moat's own, so a CONNACK goes on as it came unless a test
    // sets one.
    quotas_ = config::SessionQuotas{};
    quotas_.max_inflight = 65535;
    enforcer_->set_quotas(quotas_);  // kept by pointer, as the config's are
    version_ = version;
  }

  // Encodes `packet` and decodes it back as a frame whose views live in `bytes_`.
  mqtt::Frame Frame(const mqtt::Packet& packet, Direction direction) {
    auto& bytes = bytes_.emplace_back();
    EXPECT_EQ(mqtt::Encode(packet, version_, bytes), mqtt::EncodeError::kNone);
    auto result = mqtt::DecodeOne(bytes, direction, version_);
    EXPECT_TRUE(std::holds_alternative<mqtt::Frame>(result));
    return std::get<mqtt::Frame>(std::move(result));
  }
  Outcome FromClient(const mqtt::Packet& packet) {
    return enforcer_->FromClient(Frame(packet, Direction::kClientToServer), authorizer_);
  }
  Outcome FromBroker(const mqtt::Packet& packet) {
    return enforcer_->FromBroker(Frame(packet, Direction::kServerToClient), authorizer_);
  }
  std::vector<uint8_t> Bytes(const mqtt::Packet& packet) {
    std::vector<uint8_t> out;
    mqtt::Encode(packet, version_, out);
    return out;
  }
  static mqtt::Publish Publish(std::string_view topic, uint8_t qos, uint16_t id = 0) {
    mqtt::Publish publish;
    publish.topic = topic;
    publish.qos = qos;
    publish.packet_id = id;
    publish.payload = "x";
    return publish;
  }
  static mqtt::Publish Aliased(std::string_view topic, uint16_t alias) {
    mqtt::Publish publish = Publish(topic, 0);
    publish.properties.AddInteger(mqtt::PropertyId::kTopicAlias, alias);
    return publish;
  }

  ScriptedAuthorizer authorizer_;
  policy::ClientIdentity identity_ = test::MakeIdentity("alice", "c");
  mqtt::Connect connect_;
  ProtocolVersion version_ = ProtocolVersion::kV311;
  std::optional<Enforcer> enforcer_;
  config::SessionQuotas quotas_;
  std::deque<std::vector<uint8_t>> bytes_;
};

}  // namespace moat::proxy
