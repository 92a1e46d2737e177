// A rule's `payload: sparkplug_b`, as the Enforcer applies it: a PUBLISH whose payload is
// not Sparkplug B is refused like a denied one (MQTT 5: 0x99 on a PUBACK or PUBREC) and
// counted with the rule; a rule without `payload:` checks nothing.
#include <gtest/gtest.h>

#include "tests/proxy/enforcer_fixture.h"

namespace moat::proxy {
namespace {

using policy::DenyReason;

// Payload{timestamp: 1, seq: 0}, the smallest payload moat takes as Sparkplug B.
constexpr std::string_view kSparkplug("\x08\x01\x18\x00", 4);
constexpr std::string_view kGarbage = "{\"temperature\": 21.5}";

class EnforcerPayloadFormatTest : public EnforcerTest {
 protected:
  static mqtt::Publish With(std::string_view topic, uint8_t qos, uint16_t id,
                            std::string_view payload) {
    mqtt::Publish publish = Publish(topic, qos, id);
    publish.payload = payload;
    return publish;
  }
};

TEST_F(EnforcerPayloadFormatTest, RefusesAnMqtt5PayloadThatIsNotSparkplugWith0x99) {
  Start(ProtocolVersion::kV5);
  authorizer_.sparkplug = {"spBv1.0/g/NDATA/e"};
  EXPECT_TRUE(FromClient(With("spBv1.0/g/NDATA/e", 1, 1, kSparkplug)).forward_raw);
  // The same topic again: the decision comes from the cache, the payload is judged anew.
  const Outcome qos1 = FromClient(With("spBv1.0/g/NDATA/e", 1, 2, kGarbage));
  EXPECT_FALSE(qos1.forward_raw);
  EXPECT_EQ(qos1.answer, Bytes(mqtt::Puback{2, 0x99, {}}));
  ASSERT_EQ(qos1.denials.size(), 1u);
  EXPECT_EQ(qos1.denials[0].action, policy::Action::kPublish);
  EXPECT_EQ(qos1.denials[0].reason, DenyReason::kPayloadFormat);
  EXPECT_EQ(qos1.denials[0].rule, "edge");
  EXPECT_EQ(qos1.denials[0].rule_label, 8);
  EXPECT_FALSE(qos1.denials[0].audit);
  EXPECT_EQ(FromClient(With("spBv1.0/g/NDATA/e", 2, 3, "")).answer,
            Bytes(mqtt::Pubrec{3, 0x99, {}}));
  const Outcome qos0 = FromClient(With("spBv1.0/g/NDATA/e", 0, 0, kGarbage));
  EXPECT_FALSE(qos0.forward_raw);
  EXPECT_TRUE(qos0.answer.empty());
  EXPECT_EQ(qos0.denials.size(), 1u);
}

TEST_F(EnforcerPayloadFormatTest, TreatsAnMqtt311PublishAsOtherDeniedOnes) {
  Start(ProtocolVersion::kV311);
  authorizer_.sparkplug = {"spBv1.0/g/NDATA/e"};
  const Outcome outcome = FromClient(With("spBv1.0/g/NDATA/e", 1, 2, kGarbage));
  EXPECT_FALSE(outcome.forward_raw);
  EXPECT_EQ(outcome.answer, Bytes(mqtt::Puback{2, 0, {}}));
  ASSERT_EQ(outcome.denials.size(), 1u);
  EXPECT_EQ(outcome.denials[0].reason, DenyReason::kPayloadFormat);
}

TEST_F(EnforcerPayloadFormatTest, ChecksNothingOnATopicWhoseRulesSayNoFormat) {
  Start(ProtocolVersion::kV5);
  authorizer_.sparkplug = {"spBv1.0/g/NDATA/e"};
  const Outcome outcome = FromClient(With("plant/line1", 1, 2, kGarbage));
  EXPECT_TRUE(outcome.forward_raw);
  EXPECT_TRUE(outcome.denials.empty());
}

}  // namespace
}  // namespace moat::proxy
