// MQTT 5 properties (spec 2.2.2 and each packet's property list), and the Properties
// accessors. PUBLISH examples are 30 LL | 00 01 61 (topic "a") | property length | ...
// CONNECT examples are 10 LL | 00 04 "MQTT" 05 | 02 (clean start) | 00 3C (keep alive)
// | property length | properties | 00 01 63 (client id "c").
#include "proxy/mqtt/properties.h"

#include <gtest/gtest.h>

#include <optional>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

Publish PublishToA() {
  Publish publish;
  publish.topic = "a";
  return publish;
}

// ---- Identifiers and placement ------------------------------------------------------

TEST(Properties, RejectsUnknownPropertyId) {
  // 30 05: PUBLISH, 5 bytes. 00 01 61: topic. 01: 1 byte of properties. 7F: no such id.
  EXPECT_TRUE(Refuses(Hex("30 05 00 01 61 01 7F"), ClientToServer(), kV5,
                      DecodeError::kUnknownProperty, kMalformed));
}

TEST(Properties, RejectsPropertyIdZero) {
  // 30 05: PUBLISH, 5 bytes. 00 01 61: topic. 01: 1 byte of properties. 00: no such id.
  EXPECT_TRUE(Refuses(Hex("30 05 00 01 61 01 00"), ServerToClient(), kV5,
                      DecodeError::kUnknownProperty, kMalformed));
}

TEST(Properties, RejectsSessionExpiryIntervalInPublish) {
  // 30 09: PUBLISH, 9 bytes. 00 01 61: topic. 05: 5 bytes of properties.
  // 11 00 00 00 0A: Session Expiry Interval 10, a CONNECT/CONNACK/DISCONNECT property.
  EXPECT_TRUE(Refuses(Hex("30 09 00 01 61 05 11 00 00 00 0A"), ClientToServer(), kV5,
                      DecodeError::kPropertyNotAllowed, kMalformed));
}

TEST(Properties, RejectsWillDelayIntervalInConnectProperties) {
  // 10 13: CONNECT, 19 bytes. 05: 5 bytes of properties. 18 00 00 00 05: Will Delay
  // Interval 5, which belongs in the will properties.
  EXPECT_TRUE(Refuses(Hex("10 13 00 04 4D 51 54 54 05 02 00 3C 05 18 00 00 00 05 00 01 63"),
                      ClientToServer(), kNoVersion, DecodeError::kPropertyNotAllowed, kMalformed));
}

TEST(Properties, RejectsSessionExpiryIntervalInWillProperties) {
  // 10 19: CONNECT, 25 bytes. 06: will flag, clean start. 00 3C. 00: no properties.
  // 00 01 63: client id. 05 11 00 00 00 0A: will properties, Session Expiry Interval.
  // 00 01 77: will topic "w". 00 00: empty will payload.
  EXPECT_TRUE(Refuses(
      Hex("10 19 00 04 4D 51 54 54 05 06 00 3C 00 00 01 63 05 11 00 00 00 0A 00 01 77 00 00"),
      ClientToServer(), kNoVersion, DecodeError::kPropertyNotAllowed, kMalformed));
}

// ---- Repetition -------------------------------------------------------------------------

TEST(Properties, RejectsTwoContentTypes) {
  // 30 0C: PUBLISH, 12 bytes. 00 01 61: topic. 08: 8 bytes of properties.
  // 03 00 01 78: Content Type "x". 03 00 01 79: Content Type "y" (spec 3.3.2.3.9).
  EXPECT_TRUE(Refuses(Hex("30 0C 00 01 61 08 03 00 01 78 03 00 01 79"), ClientToServer(), kV5,
                      DecodeError::kDuplicateProperty, kProtocolError));
}

TEST(Properties, AcceptsTwoUserPropertiesInOrder) {
  // 30 12: PUBLISH, 18 bytes. 00 01 61: topic. 0E: 14 bytes of properties.
  // 26 00 01 6B 00 01 76: User Property k=v. 26 00 01 6B 00 01 77: k=w (same name).
  Publish expected = PublishToA();
  expected.properties.AddUserProperty("k", "v");
  expected.properties.AddUserProperty("k", "w");
  EXPECT_TRUE(DecodesTo(Hex("30 12 00 01 61 0E 26 00 01 6B 00 01 76 26 00 01 6B 00 01 77"),
                        ClientToServer(), kV5, expected));
}

TEST(Properties, RejectsTwoSubscriptionIdentifiersInSubscribe) {
  // 82 0B: SUBSCRIBE, 11 bytes. 00 01: id 1. 04: 4 bytes of properties.
  // 0B 01, 0B 02: two Subscription Identifiers (spec 3.8.2.1.2). 00 01 61: "a". 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 0B 00 01 04 0B 01 0B 02 00 01 61 00"), ClientToServer(), kV5,
                      DecodeError::kDuplicateProperty, kProtocolError));
}

TEST(Properties, AcceptsTwoSubscriptionIdentifiersFromServer) {
  // 30 08: PUBLISH, 8 bytes. 00 01 61: topic. 04: 4 bytes of properties.
  // 0B 01, 0B 02: Subscription Identifiers 1 and 2, one per matching subscription.
  Publish expected = PublishToA();
  expected.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 1);
  expected.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 2);
  EXPECT_TRUE(DecodesTo(Hex("30 08 00 01 61 04 0B 01 0B 02"), ServerToClient(), kV5, expected));
}

TEST(Properties, RejectsSubscriptionIdentifierFromClient) {
  // 30 06: PUBLISH, 6 bytes. 00 01 61: topic. 02: 2 bytes of properties.
  // 0B 01: Subscription Identifier 1, which a client must not send [MQTT-3.3.4-6].
  EXPECT_TRUE(Refuses(Hex("30 06 00 01 61 02 0B 01"), ClientToServer(), kV5,
                      DecodeError::kSubscriptionIdFromClient, kProtocolError));
}

// ---- Values -----------------------------------------------------------------------------

TEST(Properties, RejectsReceiveMaximumZero) {
  // 10 11: CONNECT, 17 bytes. 03: 3 bytes of properties. 21 00 00: Receive Maximum 0
  // (spec 3.1.2.11.3: a Protocol Error).
  EXPECT_TRUE(Refuses(Hex("10 11 00 04 4D 51 54 54 05 02 00 3C 03 21 00 00 00 01 63"),
                      ClientToServer(), kNoVersion, DecodeError::kInvalidPropertyValue,
                      kProtocolError));
}

TEST(Properties, RejectsMaximumPacketSizeZero) {
  // 10 13: CONNECT, 19 bytes. 05: 5 bytes of properties. 27 00 00 00 00: Maximum Packet
  // Size 0 (spec 3.1.2.11.4: a Protocol Error).
  EXPECT_TRUE(Refuses(Hex("10 13 00 04 4D 51 54 54 05 02 00 3C 05 27 00 00 00 00 00 01 63"),
                      ClientToServer(), kNoVersion, DecodeError::kInvalidPropertyValue,
                      kProtocolError));
}

TEST(Properties, RejectsPayloadFormatIndicator2) {
  // 30 06: PUBLISH, 6 bytes. 00 01 61: topic. 02: 2 bytes of properties.
  // 01 02: Payload Format Indicator 2; only 0 and 1 are defined.
  EXPECT_TRUE(Refuses(Hex("30 06 00 01 61 02 01 02"), ClientToServer(), kV5,
                      DecodeError::kInvalidPropertyValue, kProtocolError));
}

TEST(Properties, RejectsRequestProblemInformation2) {
  // 10 10: CONNECT, 16 bytes. 02: 2 bytes of properties. 17 02: Request Problem
  // Information 2; only 0 and 1 are allowed (spec 3.1.2.11.7).
  EXPECT_TRUE(Refuses(Hex("10 10 00 04 4D 51 54 54 05 02 00 3C 02 17 02 00 01 63"),
                      ClientToServer(), kNoVersion, DecodeError::kInvalidPropertyValue,
                      kProtocolError));
}

TEST(Properties, RejectsRequestResponseInformation2) {
  // 10 10: CONNECT, 16 bytes. 02: 2 bytes of properties. 19 02: Request Response
  // Information 2; only 0 and 1 are allowed (spec 3.1.2.11.6).
  EXPECT_TRUE(Refuses(Hex("10 10 00 04 4D 51 54 54 05 02 00 3C 02 19 02 00 01 63"),
                      ClientToServer(), kNoVersion, DecodeError::kInvalidPropertyValue,
                      kProtocolError));
}

TEST(Properties, RejectsSubscriptionIdentifierZero) {
  // 82 09: SUBSCRIBE, 9 bytes. 00 01: id 1. 02: 2 bytes of properties.
  // 0B 00: Subscription Identifier 0 (spec 3.8.2.1.2). 00 01 61: "a". 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 09 00 01 02 0B 00 00 01 61 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidPropertyValue, kProtocolError));
}

TEST(Properties, RejectsMaximumQos2) {
  // 20 05: CONNACK, 5 bytes. 00: no session. 00: Success. 02: 2 bytes of properties.
  // 24 02: Maximum QoS 2; only 0 and 1 may be sent (spec 3.2.2.3.4).
  EXPECT_TRUE(Refuses(Hex("20 05 00 00 02 24 02"), ServerToClient(), kV5,
                      DecodeError::kInvalidPropertyValue, kProtocolError));
}

TEST(Properties, RejectsResponseTopicWithWildcard) {
  // 30 0A: PUBLISH, 10 bytes. 00 01 61: topic. 06: 6 bytes of properties.
  // 08 00 03 61 2F 23: Response Topic "a/#"; it is a Topic Name, so no wildcards
  // [MQTT-3.3.2-14].
  EXPECT_TRUE(Refuses(Hex("30 0A 00 01 61 06 08 00 03 61 2F 23"), ClientToServer(), kV5,
                      DecodeError::kInvalidTopicName, kMalformed));
}

TEST(Properties, AcceptsLargestSubscriptionIdentifier) {
  // 30 09: PUBLISH, 9 bytes. 00 01 61: topic. 05: 5 bytes of properties.
  // 0B FF FF FF 7F: Subscription Identifier 268,435,455, the largest.
  Publish expected = PublishToA();
  expected.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 268'435'455);
  EXPECT_TRUE(DecodesTo(Hex("30 09 00 01 61 05 0B FF FF FF 7F"), ServerToClient(), kV5, expected));
}

TEST(Properties, RejectsPaddedSubscriptionIdentifier) {
  // 30 07: PUBLISH, 7 bytes. 00 01 61: topic. 03: 3 bytes of properties.
  // 0B 81 00: Subscription Identifier 1 padded to two bytes [MQTT-1.5.5-1].
  EXPECT_TRUE(Refuses(Hex("30 07 00 01 61 03 0B 81 00"), ServerToClient(), kV5,
                      DecodeError::kNonMinimalVarInt, kMalformed));
}

// ---- Authentication ---------------------------------------------------------------

TEST(Properties, RejectsAuthenticationDataWithoutMethod) {
  // 10 12: CONNECT, 18 bytes. 04: 4 bytes of properties. 16 00 01 78: Authentication
  // Data "x" without an Authentication Method (spec 3.1.2.11.10).
  EXPECT_TRUE(Refuses(Hex("10 12 00 04 4D 51 54 54 05 02 00 3C 04 16 00 01 78 00 01 63"),
                      ClientToServer(), kNoVersion, DecodeError::kAuthDataWithoutMethod,
                      kProtocolError));
}

TEST(Properties, AcceptsAuthenticationMethodAndData) {
  // 10 1A: CONNECT, 26 bytes. 0C: 12 bytes of properties. 15 00 05 53 43 52 41 4D:
  // Authentication Method "SCRAM". 16 00 01 78: Authentication Data "x".
  Connect expected;
  expected.version = kV5;
  expected.keep_alive = 60;
  expected.client_id = "c";
  expected.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM");
  expected.properties.AddString(PropertyId::kAuthenticationData, "x");
  EXPECT_TRUE(DecodesTo(
      Hex("10 1A 00 04 4D 51 54 54 05 02 00 3C 0C 15 00 05 53 43 52 41 4D 16 00 01 78 00 01 63"),
      ClientToServer(), kNoVersion, expected));
}

// ---- Lengths ------------------------------------------------------------------------

TEST(Properties, RejectsPropertyLengthPastThePacket) {
  // 30 05: PUBLISH, 5 bytes. 00 01 61: topic. 05: 5 bytes of properties, but only one
  // byte (01) is left in the packet.
  EXPECT_TRUE(Refuses(Hex("30 05 00 01 61 05 01"), ClientToServer(), kV5, DecodeError::kTruncated,
                      kMalformed));
}

TEST(Properties, RejectsValuePastThePropertyLength) {
  // 30 07: PUBLISH, 7 bytes. 00 01 61: topic. 03: 3 bytes of properties.
  // 02 00 00: Message Expiry Interval needs four bytes, two are there.
  EXPECT_TRUE(Refuses(Hex("30 07 00 01 61 03 02 00 00"), ClientToServer(), kV5,
                      DecodeError::kTruncated, kMalformed));
}

// ---- Accessors --------------------------------------------------------------------------

TEST(Properties, ReturnsFirstOccurrence) {
  Properties properties;
  properties.AddInteger(PropertyId::kSubscriptionIdentifier, 7);
  properties.AddInteger(PropertyId::kSubscriptionIdentifier, 9);
  properties.AddString(PropertyId::kContentType, "text/plain");
  properties.AddUserProperty("k", "v");
  EXPECT_EQ(properties.Integer(PropertyId::kSubscriptionIdentifier), std::optional<uint32_t>(7));
  EXPECT_EQ(properties.String(PropertyId::kContentType),
            std::optional<std::string_view>("text/plain"));
  EXPECT_EQ(properties.Integer(PropertyId::kTopicAlias), std::nullopt);
  EXPECT_EQ(properties.String(PropertyId::kResponseTopic), std::nullopt);
}

TEST(Properties, RemoveDropsEveryOccurrenceAndKeepsTheRestInOrder) {
  Properties properties;
  properties.AddUserProperty("a", "1");
  properties.AddInteger(PropertyId::kMessageExpiryInterval, 30);
  properties.AddUserProperty("b", "2");
  properties.AddString(PropertyId::kContentType, "t");
  properties.Remove(PropertyId::kUserProperty);
  Properties expected;
  expected.AddInteger(PropertyId::kMessageExpiryInterval, 30);
  expected.AddString(PropertyId::kContentType, "t");
  EXPECT_EQ(properties, expected);
  properties.Remove(PropertyId::kTopicAlias);  // absent: no change
  EXPECT_EQ(properties, expected);
}

}  // namespace
}  // namespace moat::mqtt::test
