// The session quotas under `limits` and a rule's max_payload, as the Enforcer applies them:
// each refusal with the code its protocol version has for it.
#include <gtest/gtest.h>

#include "tests/proxy/enforcer_fixture.h"

namespace moat::proxy {
namespace {

using policy::DenyReason;

class EnforcerQuotaTest : public EnforcerTest {
 protected:
  void StartWith(ProtocolVersion version, const config::SessionQuotas& quotas) {
    Start(version);
    quotas_ = quotas;
    enforcer_->set_quotas(quotas_);
  }
  static mqtt::Publish Sized(std::string_view topic, uint8_t qos, uint16_t id,
                             std::string_view payload) {
    mqtt::Publish publish = Publish(topic, qos, id);
    publish.payload = payload;
    return publish;
  }
};

config::SessionQuotas Topics(uint32_t length, uint32_t levels) {
  config::SessionQuotas quotas;
  quotas.max_topic_length = length;
  quotas.max_topic_levels = levels;
  return quotas;
}

TEST_F(EnforcerQuotaTest, RefusesAPublishOverTheTopicLimitsBeforeThePolicyIsAsked) {
  struct Case {
    ProtocolVersion version;
    config::SessionQuotas quotas;
    std::string_view within, over;
    uint8_t code;  // PUBACK: MQTT 5's Topic Name invalid; before 5, completed as accepted
    DenyReason reason;
  };
  for (const Case& c :
       {Case{ProtocolVersion::kV5, Topics(8, 128), "12345678", "123456789", 0x90,
             DenyReason::kTopicLength},
        Case{ProtocolVersion::kV311, Topics(1024, 3), "a/b/c", "a/b/c/d", 0,
             DenyReason::kTopicLevels},
        // Empty levels are levels.
        Case{ProtocolVersion::kV5, Topics(1024, 3), "//", "///", 0x90, DenyReason::kTopicLevels}}) {
    SCOPED_TRACE(c.over);
    authorizer_.calls = 0;
    StartWith(c.version, c.quotas);
    EXPECT_TRUE(FromClient(Publish(c.within, 1, 1)).forward_raw);
    const Outcome outcome = FromClient(Publish(c.over, 1, 2));
    EXPECT_FALSE(outcome.forward_raw);
    EXPECT_EQ(outcome.answer, Bytes(mqtt::Puback{2, c.code, {}}));
    ASSERT_EQ(outcome.denials.size(), 1u);
    EXPECT_EQ(outcome.denials[0].reason, c.reason);
    EXPECT_EQ(outcome.denials[0].rule_label, 0);
    EXPECT_EQ(authorizer_.calls, 1);  // only for the topic within the limits
  }
}

TEST_F(EnforcerQuotaTest, AnAliasForATopicOverTheLimitKeepsNoMoreThanTheLimitAndStaysRefused) {
  StartWith(ProtocolVersion::kV5, Topics(8, 128));
  mqtt::Properties aliases;
  aliases.AddInteger(mqtt::PropertyId::kTopicAliasMaximum, 10);
  FromBroker(mqtt::Connack{false, 0, aliases});
  const std::string long_topic(60'000, 'x');
  const Outcome set = FromClient(Aliased(long_topic, 1));
  EXPECT_FALSE(set.forward_raw);
  ASSERT_EQ(set.denials.size(), 1u);
  EXPECT_EQ(set.denials[0].reason, DenyReason::kTopicLength);
  const Outcome reuse = FromClient(Aliased("", 1));
  EXPECT_FALSE(reuse.forward_raw);
  ASSERT_EQ(reuse.denials.size(), 1u);
  EXPECT_EQ(reuse.denials[0].reason, DenyReason::kTopicLength);
  EXPECT_EQ(reuse.denials[0].topic.size(), 9u);  // what was kept: the limit and one byte
  EXPECT_TRUE(FromClient(Aliased("ok/topic", 1)).forward_raw);
}

TEST_F(EnforcerQuotaTest, RefusesFiltersOverTheTopicLimitsAndForwardsTheRest) {
  StartWith(ProtocolVersion::kV5, Topics(6, 2));
  const Outcome outcome =
      FromClient(mqtt::Subscribe{5, {}, {{"a/+", 1}, {"a/b/#", 0}, {"abcdefg", 0}}});
  EXPECT_EQ(outcome.forward_rewritten, Bytes(mqtt::Subscribe{5, {}, {{"a/+", 1}}}));
  ASSERT_EQ(outcome.denials.size(), 2u);
  EXPECT_EQ(outcome.denials[0].reason, DenyReason::kTopicLevels);
  EXPECT_EQ(outcome.denials[1].reason, DenyReason::kTopicLength);
  EXPECT_EQ(FromBroker(mqtt::Suback{5, {}, {0x01}}).forward_rewritten,
            Bytes(mqtt::Suback{5, {}, {0x01, 0x8F, 0x8F}}));
}

TEST_F(EnforcerQuotaTest, AnswersAnMqtt311FilterOverTheLimitsWithFailure) {
  StartWith(ProtocolVersion::kV311, Topics(4, 128));
  EXPECT_EQ(FromClient(mqtt::Subscribe{5, {}, {{"abcde", 0}}}).answer,
            Bytes(mqtt::Suback{5, {}, {0x80}}));
}

TEST_F(EnforcerQuotaTest, HoldsASessionToMaxSubscriptionsCountingEachFilterOnce) {
  config::SessionQuotas quotas;
  quotas.max_subscriptions = 2;
  StartWith(ProtocolVersion::kV5, quotas);
  EXPECT_TRUE(FromClient(mqtt::Subscribe{1, {}, {{"a", 0}, {"b", 0}}}).forward_raw);
  // A filter granted again replaces its subscription: still two.
  EXPECT_TRUE(FromClient(mqtt::Subscribe{2, {}, {{"a", 1}}}).forward_raw);
  const Outcome third = FromClient(mqtt::Subscribe{3, {}, {{"c", 0}}});
  EXPECT_EQ(third.answer, Bytes(mqtt::Suback{3, {}, {0x97}}));
  ASSERT_EQ(third.denials.size(), 1u);
  EXPECT_EQ(third.denials[0].reason, DenyReason::kSubscriptionLimit);
  EXPECT_EQ(third.denials[0].action, policy::Action::kSubscribe);
  // An UNSUBSCRIBE makes room.
  EXPECT_TRUE(FromClient(mqtt::Unsubscribe{4, {}, {"a"}}).forward_raw);
  EXPECT_TRUE(FromClient(mqtt::Subscribe{5, {}, {{"c", 0}}}).forward_raw);
}

TEST_F(EnforcerQuotaTest, RefusesAnMqtt311SubscriptionOverTheLimitWithFailure) {
  config::SessionQuotas quotas;
  quotas.max_subscriptions = 1;
  StartWith(ProtocolVersion::kV311, quotas);
  const Outcome outcome = FromClient(mqtt::Subscribe{1, {}, {{"a", 0}, {"b", 1}}});
  EXPECT_EQ(outcome.forward_rewritten, Bytes(mqtt::Subscribe{1, {}, {{"a", 0}}}));
  EXPECT_EQ(FromBroker(mqtt::Suback{1, {}, {0x00}}).forward_rewritten,
            Bytes(mqtt::Suback{1, {}, {0x00, 0x80}}));
}

TEST_F(EnforcerQuotaTest, DisconnectsASubscribeOrUnsubscribeWithTooManyFilters) {
  config::SessionQuotas quotas;
  quotas.max_filters_per_subscribe = 2;
  StartWith(ProtocolVersion::kV5, quotas);
  EXPECT_TRUE(FromClient(mqtt::Subscribe{1, {}, {{"a", 0}, {"b", 0}}}).forward_raw);
  const Outcome subscribe = FromClient(mqtt::Subscribe{2, {}, {{"a", 0}, {"b", 0}, {"c", 0}}});
  EXPECT_EQ(subscribe.disconnect, mqtt::ReasonCode::kQuotaExceeded);
  EXPECT_FALSE(subscribe.forward_raw);
  ASSERT_EQ(subscribe.denials.size(), 1u);
  EXPECT_EQ(subscribe.denials[0].reason, DenyReason::kSubscribeFilters);
  EXPECT_EQ(authorizer_.calls, 2);  // the big packet was not judged filter by filter
  const Outcome unsubscribe = FromClient(mqtt::Unsubscribe{3, {}, {"a", "b", "c"}});
  EXPECT_EQ(unsubscribe.disconnect, mqtt::ReasonCode::kQuotaExceeded);
}

// Narrowed SUBSCRIBEs the broker has not answered: what moat keeps to merge their SUBACKs
// is capped, as only a client that reads none of its SUBACKs can pile them up.
TEST_F(EnforcerQuotaTest, UnansweredNarrowedSubscribesEndTheSessionPastTheirCap) {
  StartWith(ProtocolVersion::kV5, config::SessionQuotas{});
  authorizer_.denied_subscribe = {"no"};
  std::vector<std::string> names;
  for (int f = 0; f < 999; ++f) names.push_back("ok/" + std::to_string(f));
  mqtt::Subscribe subscribe;
  for (const std::string& name : names) subscribe.subscriptions.push_back({name, 0});
  subscribe.subscriptions.push_back({"no", 0});
  const std::vector<uint8_t> granted(999, 0x00);
  // Answered as they go: never capped.
  for (uint16_t id = 1; id <= 1000; ++id) {
    subscribe.packet_id = id;
    ASSERT_FALSE(FromClient(subscribe).disconnect) << id;
    ASSERT_FALSE(FromBroker(mqtt::Suback{id, {}, granted}).forward_rewritten.empty()) << id;
  }
  // Unanswered: about 2 KiB each, so the 256 KiB cap ends it after some 125.
  std::optional<uint16_t> ended_at;
  for (uint16_t id = 1; id <= 200 && !ended_at; ++id) {
    subscribe.packet_id = id;
    const Outcome outcome = FromClient(subscribe);
    if (!outcome.disconnect) continue;
    ended_at = id;
    EXPECT_EQ(outcome.disconnect, mqtt::ReasonCode::kQuotaExceeded);
    EXPECT_TRUE(outcome.forward_rewritten.empty());
    EXPECT_EQ(outcome.denials.back().reason, DenyReason::kSubscribeFilters);
  }
  ASSERT_TRUE(ended_at.has_value());
  EXPECT_GT(*ended_at, 100);
}

TEST_F(EnforcerQuotaTest, KeepsUnsubscribeFiltersOverTheLimitsFromTheBroker) {
  StartWith(ProtocolVersion::kV5, Topics(4, 128));
  const Outcome some = FromClient(mqtt::Unsubscribe{3, {}, {"a", "abcde"}});
  EXPECT_EQ(some.forward_rewritten, Bytes(mqtt::Unsubscribe{3, {}, {"a"}}));
  EXPECT_EQ(FromBroker(mqtt::Unsuback{3, {}, {0x00}}).forward_rewritten,
            Bytes(mqtt::Unsuback{3, {}, {0x00, 0x8F}}));
  EXPECT_EQ(FromClient(mqtt::Unsubscribe{4, {}, {"abcde"}}).answer,
            Bytes(mqtt::Unsuback{4, {}, {0x8F}}));
}

TEST_F(EnforcerQuotaTest, DisconnectsAClientPastMaxInflightAndFreesSlotsOnAnswers) {
  config::SessionQuotas quotas;
  quotas.max_inflight = 2;
  StartWith(ProtocolVersion::kV5, quotas);
  EXPECT_TRUE(FromClient(Publish("a", 1, 1)).forward_raw);
  EXPECT_TRUE(FromClient(Publish("a", 2, 2)).forward_raw);
  EXPECT_TRUE(FromClient(Publish("a", 0)).forward_raw);  // QoS 0 takes no slot
  EXPECT_TRUE(FromBroker(mqtt::Puback{1, 0, {}}).forward_raw);
  EXPECT_TRUE(FromClient(Publish("a", 1, 3)).forward_raw);
  // A successful PUBREC leaves the QoS 2 flow open; its PUBCOMP ends it.
  FromBroker(mqtt::Pubrec{2, 0, {}});
  const Outcome over = FromClient(Publish("a", 1, 4));
  EXPECT_EQ(over.disconnect, mqtt::ReasonCode::kReceiveMaximumExceeded);
  ASSERT_EQ(over.denials.size(), 1u);
  EXPECT_EQ(over.denials[0].reason, DenyReason::kInflightLimit);
}

TEST_F(EnforcerQuotaTest, FreesAnInflightSlotOnPubcompOrAFailedPubrec) {
  config::SessionQuotas quotas;
  quotas.max_inflight = 1;
  StartWith(ProtocolVersion::kV311, quotas);
  EXPECT_TRUE(FromClient(Publish("a", 2, 1)).forward_raw);
  mqtt::Publish again = Publish("a", 2, 1);
  again.dup = true;  // a retransmission takes no second slot
  EXPECT_TRUE(FromClient(again).forward_raw);
  FromBroker(mqtt::Pubcomp{1, 0, {}});
  EXPECT_TRUE(FromClient(Publish("a", 1, 2)).forward_raw);
  EXPECT_TRUE(FromClient(Publish("a", 1, 3)).disconnect.has_value());
}

TEST_F(EnforcerQuotaTest, TellsAnMqtt5ClientTheLowerReceiveMaximum) {
  config::SessionQuotas quotas;
  quotas.max_inflight = 10;
  StartWith(ProtocolVersion::kV5, quotas);
  mqtt::Connack told{false, 0, {}};
  told.properties.AddInteger(mqtt::PropertyId::kReceiveMaximum, 10);
  EXPECT_EQ(FromBroker(mqtt::Connack{false, 0, {}}).forward_rewritten, Bytes(told));
  mqtt::Connack lower{false, 0, {}};
  lower.properties.AddInteger(mqtt::PropertyId::kReceiveMaximum, 5);
  EXPECT_TRUE(FromBroker(lower).forward_raw);
  mqtt::Connack higher{false, 0, {}};
  higher.properties.AddInteger(mqtt::PropertyId::kReceiveMaximum, 100);
  EXPECT_EQ(FromBroker(higher).forward_rewritten, Bytes(told));
}

TEST_F(EnforcerQuotaTest, RefusesAnMqtt5PayloadOverMaxPayloadWithQuotaExceeded) {
  StartWith(ProtocolVersion::kV5, {});
  authorizer_.max_payload = {{"s", 4}};
  EXPECT_TRUE(FromClient(Sized("s", 1, 1, "1234")).forward_raw);
  const Outcome qos1 = FromClient(Sized("s", 1, 2, "12345"));
  EXPECT_FALSE(qos1.forward_raw);
  EXPECT_EQ(qos1.answer, Bytes(mqtt::Puback{2, 0x97, {}}));
  ASSERT_EQ(qos1.denials.size(), 1u);
  EXPECT_EQ(qos1.denials[0].reason, DenyReason::kPayloadLimit);
  EXPECT_EQ(qos1.denials[0].rule, "sensors");
  EXPECT_EQ(qos1.denials[0].rule_label, 7);
  EXPECT_FALSE(qos1.denials[0].audit);
  EXPECT_EQ(FromClient(Sized("s", 2, 3, "12345")).answer, Bytes(mqtt::Pubrec{3, 0x97, {}}));
  // The decision is cached; the size is judged on every packet all the same.
  EXPECT_EQ(authorizer_.calls, 2);
}

TEST_F(EnforcerQuotaTest, CompletesAnMqtt311PublishOverMaxPayloadWithoutForwardingIt) {
  StartWith(ProtocolVersion::kV311, {});
  authorizer_.max_payload = {{"s", 4}};
  const Outcome outcome = FromClient(Sized("s", 1, 2, "12345"));
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_EQ(outcome.answer, Bytes(mqtt::Puback{2, 0, {}}));
}

TEST_F(EnforcerQuotaTest, LetsAPayloadOverAnAuditModeLimitThroughAndReportsIt) {
  StartWith(ProtocolVersion::kV5, {});
  authorizer_.max_payload = {{"s", 4}};
  authorizer_.payload_audit = true;
  const Outcome outcome = FromClient(Sized("s", 1, 2, "12345"));
  EXPECT_TRUE(outcome.forward_raw);
  EXPECT_TRUE(outcome.answer.empty());
  ASSERT_EQ(outcome.denials.size(), 1u);
  EXPECT_EQ(outcome.denials[0].reason, DenyReason::kPayloadLimit);
  EXPECT_TRUE(outcome.denials[0].audit);
}

}  // namespace
}  // namespace moat::proxy
