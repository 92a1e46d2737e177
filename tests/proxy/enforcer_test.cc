// The Enforcer's answers, packet by packet, with a scripted authorizer: no sockets.
#include "proxy/enforcer.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <string>

#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"
#include "policy/rule_labels.h"
#include "proxy/mqtt/encoder.h"
#include "tests/proxy/enforcer_fixture.h"

namespace moat::proxy {
namespace {

TEST_F(EnforcerTest, ForwardsAnAllowedPublishAsItCame) {
  Start(ProtocolVersion::kV311);
  const Outcome outcome = FromClient(Publish("a/b", 1, 7));
  EXPECT_TRUE(outcome.forward_raw);
  EXPECT_TRUE(outcome.answer.empty());
  EXPECT_TRUE(outcome.denials.empty());
}

TEST_F(EnforcerTest, AnswersADeniedMqtt5PublishWithNotAuthorized) {
  Start(ProtocolVersion::kV5);
  authorizer_.denied_publish = {"secret"};
  Outcome qos1 = FromClient(Publish("secret", 1, 7));
  EXPECT_FALSE(qos1.forward_raw);
  EXPECT_EQ(qos1.answer, Bytes(mqtt::Puback{7, 0x87, {}}));
  ASSERT_EQ(qos1.denials.size(), 1u);
  EXPECT_EQ(qos1.denials[0].action, policy::Action::kPublish);
  EXPECT_EQ(qos1.denials[0].rule, "acl:1");
  EXPECT_EQ(FromClient(Publish("secret", 2, 8)).answer, Bytes(mqtt::Pubrec{8, 0x87, {}}));
  const Outcome qos0 = FromClient(Publish("secret", 0));
  EXPECT_TRUE(qos0.answer.empty());
  EXPECT_FALSE(qos0.forward_raw);
}

TEST_F(EnforcerTest, CompletesADeniedQos2FlowOfAnMqtt311ClientItself) {
  Start(ProtocolVersion::kV311);
  authorizer_.denied_publish = {"secret"};
  EXPECT_EQ(FromClient(Publish("secret", 2, 9)).answer, Bytes(mqtt::Pubrec{9, 0, {}}));
  // The broker never saw packet 9: its PUBREL is answered here, not forwarded.
  const Outcome pubrel = FromClient(mqtt::Pubrel{9, 0, {}});
  EXPECT_FALSE(pubrel.forward_raw);
  EXPECT_EQ(pubrel.answer, Bytes(mqtt::Pubcomp{9, 0, {}}));
  // Another PUBREL is the broker's business again.
  EXPECT_TRUE(FromClient(mqtt::Pubrel{9, 0, {}}).forward_raw);
}

TEST_F(EnforcerTest, DisconnectsAnMqtt311ClientWhenConfiguredTo) {
  Start(ProtocolVersion::kV311, 0, config::DeniedPublish::kDisconnect);
  authorizer_.denied_publish = {"secret"};
  EXPECT_TRUE(FromClient(Publish("secret", 1, 3)).disconnect.has_value());
}

TEST_F(EnforcerTest, ForwardsOnlyGrantedFiltersAndMergesTheSuback) {
  Start(ProtocolVersion::kV5);
  authorizer_.denied_subscribe = {"b/#"};
  mqtt::Subscribe subscribe{5, {}, {{"a/+", 1}, {"b/#", 0}, {"c", 2}}};
  const Outcome outcome = FromClient(subscribe);
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_EQ(outcome.forward_rewritten, Bytes(mqtt::Subscribe{5, {}, {{"a/+", 1}, {"c", 2}}}));
  const Outcome suback = FromBroker(mqtt::Suback{5, {}, {0x01, 0x02}});
  EXPECT_EQ(suback.forward_rewritten, Bytes(mqtt::Suback{5, {}, {0x01, 0x87, 0x02}}));
}

TEST_F(EnforcerTest, AsksTheBrokerForNoMoreThanTheRulesAllowAndCountsPartialGrants) {
  Start(ProtocolVersion::kV5);
  authorizer_.subscribe_max_qos = {{"lim/#", 1}};
  authorizer_.partial_subscribe = {"a/#", "lim/#"};
  const Outcome outcome = FromClient(mqtt::Subscribe{6, {}, {{"a/#", 2}, {"lim/#", 2}}});
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_EQ(outcome.forward_rewritten, Bytes(mqtt::Subscribe{6, {}, {{"a/#", 2}, {"lim/#", 1}}}));
  EXPECT_TRUE(outcome.denials.empty());
  EXPECT_EQ(outcome.partial_subscriptions, 2);
  // The broker's SUBACK says what was granted, and the client gets it.
  const Outcome suback = FromBroker(mqtt::Suback{6, {}, {0x02, 0x01}});
  EXPECT_EQ(suback.forward_rewritten, Bytes(mqtt::Suback{6, {}, {0x02, 0x01}}));
  // Within the limit, the SUBSCRIBE goes on as it came.
  const Outcome within = FromClient(mqtt::Subscribe{7, {}, {{"lim/#", 1}}});
  EXPECT_TRUE(within.forward_raw);
}

TEST_F(EnforcerTest, AnswersASubscribeWithNothingGranted) {
  Start(ProtocolVersion::kV311);
  authorizer_.denied_subscribe = {"x", "y"};
  const Outcome outcome = FromClient(mqtt::Subscribe{4, {}, {{"x", 0}, {"y", 1}}});
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_TRUE(outcome.forward_rewritten.empty());
  EXPECT_EQ(outcome.answer, Bytes(mqtt::Suback{4, {}, {0x80, 0x80}}));
  EXPECT_EQ(outcome.denials.size(), 2u);
}

TEST_F(EnforcerTest, WithholdsADeniedDeliveryAndAcknowledgesItToTheBroker) {
  Start(ProtocolVersion::kV311);
  authorizer_.denied_receive = {"a/secret"};
  const Outcome qos1 = FromBroker(Publish("a/secret", 1, 11));
  EXPECT_FALSE(qos1.forward_raw);
  EXPECT_EQ(qos1.answer, Bytes(mqtt::Puback{11, 0, {}}));
  EXPECT_EQ(qos1.denials[0].action, policy::Action::kDeliver);
  EXPECT_EQ(FromBroker(Publish("a/secret", 2, 12)).answer, Bytes(mqtt::Pubrec{12, 0, {}}));
  const Outcome pubrel = FromBroker(mqtt::Pubrel{12, 0, {}});
  EXPECT_FALSE(pubrel.forward_raw);
  EXPECT_EQ(pubrel.answer, Bytes(mqtt::Pubcomp{12, 0, {}}));
  EXPECT_TRUE(FromBroker(Publish("a/public", 1, 13)).forward_raw);
}

TEST_F(EnforcerTest, JudgesAnAliasOnlyPublishOnTheTopicItStandsFor) {
  Start(ProtocolVersion::kV5);
  EXPECT_TRUE(FromBroker(mqtt::Connack{false, 0,
                                       [] {
                                         mqtt::Properties p;
                                         p.AddInteger(mqtt::PropertyId::kTopicAliasMaximum, 10);
                                         return p;
                                       }()})
                  .forward_raw);
  authorizer_.denied_publish = {"secret"};
  EXPECT_TRUE(FromClient(Aliased("open", 1)).forward_raw);
  EXPECT_TRUE(FromClient(Aliased("", 1)).forward_raw);
  EXPECT_FALSE(FromClient(Aliased("secret", 2)).forward_raw);
  const Outcome reuse = FromClient(Aliased("", 2));
  EXPECT_FALSE(reuse.forward_raw);
  ASSERT_EQ(reuse.denials.size(), 1u);
  EXPECT_EQ(reuse.denials[0].topic, "secret");
}

TEST_F(EnforcerTest, RefusesUnknownAndOutOfRangeAliases) {
  Start(ProtocolVersion::kV5);
  FromBroker(mqtt::Connack{false, 0, [] {
                             mqtt::Properties p;
                             p.AddInteger(mqtt::PropertyId::kTopicAliasMaximum, 5);
                             return p;
                           }()});
  EXPECT_EQ(FromClient(Aliased("", 3)).disconnect, mqtt::ReasonCode::kProtocolError);
  EXPECT_EQ(FromClient(Aliased("t", 6)).disconnect, mqtt::ReasonCode::kTopicAliasInvalid);
}

TEST_F(EnforcerTest, TeachesTheClientAnAliasWhoseSettingPublishWasWithheld) {
  Start(ProtocolVersion::kV5, /*topic_alias_maximum=*/10);
  authorizer_.denied_receive = {"a"};
  EXPECT_FALSE(FromBroker(Aliased("a", 3)).forward_raw);
  authorizer_.denied_receive.clear();  // a reload
  ++authorizer_.policy_version;
  mqtt::Publish with_topic = Aliased("a", 3);
  EXPECT_EQ(FromBroker(Aliased("", 3)).forward_rewritten, Bytes(with_topic));
  EXPECT_TRUE(FromBroker(Aliased("", 3)).forward_raw);  // now the client knows it
}

TEST_F(EnforcerTest, RefusesPublishesToTheBrokersOwnTopicsWhateverThePolicy) {
  Start(ProtocolVersion::kV5);
  for (std::string_view topic : {"$SYS/broker/uptime", "$SYS", "$share/g/a"}) {
    const Outcome outcome = FromClient(Publish(topic, 1, 4));
    EXPECT_FALSE(outcome.forward_raw) << topic;
    ASSERT_EQ(outcome.denials.size(), 1u) << topic;
    EXPECT_EQ(outcome.denials[0].rule, "reserved_topic");
    EXPECT_EQ(outcome.denials[0].rule_label, policy::RuleLabels::kReservedTopic);
  }
  EXPECT_TRUE(FromClient(Publish("$custom/x", 0)).forward_raw);  // other $ topics: policy
}

TEST_F(EnforcerTest, CachesDecisionsUntilThePolicyChanges) {
  Start(ProtocolVersion::kV311);
  EXPECT_TRUE(FromClient(Publish("s/1", 0)).forward_raw);
  EXPECT_TRUE(FromClient(Publish("s/1", 0)).forward_raw);
  EXPECT_EQ(authorizer_.calls, 1);
  EXPECT_TRUE(FromClient(Publish("s/1", 1, 2)).forward_raw);  // another QoS, another question
  EXPECT_EQ(authorizer_.calls, 2);
  authorizer_.denied_publish = {"s/1"};
  ++authorizer_.policy_version;  // a reload
  EXPECT_FALSE(FromClient(Publish("s/1", 0)).forward_raw);
  EXPECT_EQ(authorizer_.calls, 3);
}

TEST_F(EnforcerTest, RemovesSubscriptionsANewPolicyNoLongerGrants) {
  Start(ProtocolVersion::kV311);
  EXPECT_TRUE(FromClient(mqtt::Subscribe{1, {}, {{"a/#", 0}, {"b/#", 1}}}).forward_raw);
  EXPECT_TRUE(enforcer_->RevokeSubscriptions(authorizer_).empty());
  authorizer_.denied_subscribe = {"b/#"};
  const std::vector<uint8_t> unsubscribe = enforcer_->RevokeSubscriptions(authorizer_);
  EXPECT_EQ(unsubscribe, Bytes(mqtt::Unsubscribe{0xFFFF, {}, {"b/#"}}));
  // moat's own UNSUBSCRIBE is answered to moat, not to the client.
  const Outcome unsuback = FromBroker(mqtt::Unsuback{0xFFFF, {}, {}});
  EXPECT_FALSE(unsuback.forward_raw);
  EXPECT_TRUE(enforcer_->RevokeSubscriptions(authorizer_).empty());
}

// ---- per-rule audit mode, with a real native policy ---------------------------------

class AuditRuleTest : public EnforcerTest {
 protected:
  void SetUp() override {
    absl::StatusOr<policy::YamlPolicy> yaml = policy::ParseYamlPolicy(
        "rules:\n"
        "  - {id: all, effect: allow, actions: [publish, subscribe], topics: ['#'],\n"
        "     everyone: true}\n"
        "  - {id: watch, effect: deny, actions: [publish, subscribe], topics: ['w/#'],\n"
        "     everyone: true, mode: audit}\n"
        "  - {id: block, effect: deny, actions: [publish, subscribe], topics: ['w/x'],\n"
        "     everyone: true}\n",
        "policy.yaml");
    ASSERT_TRUE(yaml.ok()) << yaml.status();
    policy::AclPolicy::Builder builder;
    policy::AddYamlPolicy(*yaml, builder, labels_);
    policy_ = std::move(builder).Build(1);
  }
  Outcome PolicyFromClient(const mqtt::Packet& packet) {
    return enforcer_->FromClient(Frame(packet, Direction::kClientToServer), *policy_);
  }
  Outcome PolicyFromBroker(const mqtt::Packet& packet) {
    return enforcer_->FromBroker(Frame(packet, Direction::kServerToClient), *policy_);
  }

  policy::RuleLabels labels_;
  std::shared_ptr<const policy::AclPolicy> policy_;
};

TEST_F(AuditRuleTest, AnAuditDenyForwardsThePublishAndReportsItsRule) {
  Start(ProtocolVersion::kV5);
  const Outcome outcome = PolicyFromClient(Publish("w/y", 1, 3));
  EXPECT_TRUE(outcome.forward_raw);
  EXPECT_TRUE(outcome.answer.empty());
  ASSERT_EQ(outcome.denials.size(), 1u);
  EXPECT_TRUE(outcome.denials[0].audit);
  EXPECT_EQ(outcome.denials[0].rule, "watch");
  EXPECT_EQ(outcome.denials[0].reason, policy::DenyReason::kDenyRule);
  EXPECT_EQ(outcome.denials[0].rule_label, labels_.Assign("watch"));
}

TEST_F(AuditRuleTest, AnEnforcingDenyStillRefusesWithItsOwnRule) {
  Start(ProtocolVersion::kV5);
  const Outcome outcome = PolicyFromClient(Publish("w/x", 1, 3));
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_EQ(outcome.answer, Bytes(mqtt::Puback{3, 0x87, {}}));
  ASSERT_EQ(outcome.denials.size(), 1u);
  EXPECT_FALSE(outcome.denials[0].audit);
  EXPECT_EQ(outcome.denials[0].rule, "block");
  EXPECT_EQ(outcome.denials[0].rule_label, labels_.Assign("block"));
}

TEST_F(AuditRuleTest, SubscribeRefusedOnlyByAnAuditDenyIsGrantedAndReported) {
  Start(ProtocolVersion::kV311);
  const Outcome outcome =
      PolicyFromClient(mqtt::Subscribe{2, {}, {{"w/y/#", 1}, {"w/#", 0}, {"w/x", 0}}});
  // "w/x" is all the enforcing "block": refused. All "w/y/#" and "w/#" could deliver, the
  // audit rule would withhold (w/x aside): granted, and reported as what enforcing refuses.
  EXPECT_EQ(outcome.forward_rewritten, Bytes(mqtt::Subscribe{2, {}, {{"w/y/#", 1}, {"w/#", 0}}}));
  ASSERT_EQ(outcome.denials.size(), 3u);
  EXPECT_FALSE(outcome.denials[0].audit);
  EXPECT_EQ(outcome.denials[0].rule, "block");
  EXPECT_EQ(outcome.denials[0].topic, "w/x");
  EXPECT_TRUE(outcome.denials[1].audit);
  EXPECT_EQ(outcome.denials[1].rule, "watch");
  EXPECT_EQ(outcome.denials[1].topic, "w/y/#");
  EXPECT_TRUE(outcome.denials[2].audit);
  EXPECT_EQ(outcome.denials[2].topic, "w/#");
  const Outcome all_granted = PolicyFromClient(mqtt::Subscribe{3, {}, {{"w/z", 0}}});
  EXPECT_TRUE(all_granted.forward_raw);
  ASSERT_EQ(all_granted.denials.size(), 1u);
  EXPECT_TRUE(all_granted.denials[0].audit);
}

TEST_F(AuditRuleTest, DeliveryUnderAnAuditDenyIsForwardedAndReported) {
  Start(ProtocolVersion::kV311);
  const Outcome audited = PolicyFromBroker(Publish("w/y", 1, 9));
  EXPECT_TRUE(audited.forward_raw);
  EXPECT_TRUE(audited.answer.empty());
  ASSERT_EQ(audited.denials.size(), 1u);
  EXPECT_EQ(audited.denials[0].action, policy::Action::kDeliver);
  EXPECT_TRUE(audited.denials[0].audit);
  const Outcome withheld = PolicyFromBroker(Publish("w/x", 1, 10));
  EXPECT_FALSE(withheld.forward_raw);
  EXPECT_EQ(withheld.answer, Bytes(mqtt::Puback{10, 0, {}}));
  const Outcome open = PolicyFromBroker(Publish("o/x", 0));
  EXPECT_TRUE(open.forward_raw);
  EXPECT_TRUE(open.denials.empty());
}

// limits.max_keepalive: what a client keeps is the broker's answer or its own, capped.
mqtt::Connack ConnackWithKeepAlive(std::optional<uint32_t> seconds) {
  mqtt::Connack connack;
  if (seconds) connack.properties.AddInteger(mqtt::PropertyId::kServerKeepAlive, *seconds);
  return connack;
}

TEST_F(EnforcerTest, AnMqtt5ClientWithoutKeepAliveIsToldTheCap) {
  Start(ProtocolVersion::kV5, 0, config::DeniedPublish::kDrop, /*keep_alive=*/0);
  enforcer_->set_max_keep_alive(60);
  const Outcome outcome = FromBroker(ConnackWithKeepAlive(std::nullopt));
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_EQ(outcome.forward_rewritten, Bytes(ConnackWithKeepAlive(60)));
  EXPECT_EQ(outcome.server_keep_alive, 60);
}

TEST_F(EnforcerTest, ABrokersLongerServerKeepAliveIsCapped) {
  Start(ProtocolVersion::kV5, 0, config::DeniedPublish::kDrop, /*keep_alive=*/30);
  enforcer_->set_max_keep_alive(3600);
  const Outcome outcome = FromBroker(ConnackWithKeepAlive(7200));
  EXPECT_EQ(outcome.forward_rewritten, Bytes(ConnackWithKeepAlive(3600)));
  EXPECT_EQ(outcome.server_keep_alive, 3600);
}

TEST_F(EnforcerTest, AKeepAliveWithinTheCapIsLeftAsItCame) {
  Start(ProtocolVersion::kV5, 0, config::DeniedPublish::kDrop, /*keep_alive=*/30);
  enforcer_->set_max_keep_alive(60);
  const Outcome outcome = FromBroker(ConnackWithKeepAlive(std::nullopt));
  EXPECT_TRUE(outcome.forward_raw);
  EXPECT_EQ(outcome.server_keep_alive, std::nullopt);
}

TEST_F(EnforcerTest, AnOlderClientCannotBeToldButIsHeldToTheCap) {
  Start(ProtocolVersion::kV311, 0, config::DeniedPublish::kDrop, /*keep_alive=*/0);
  enforcer_->set_max_keep_alive(60);
  const Outcome outcome = FromBroker(mqtt::Connack{});
  EXPECT_TRUE(outcome.forward_raw);
  EXPECT_EQ(outcome.server_keep_alive, 60);
}

}  // namespace
}  // namespace moat::proxy
