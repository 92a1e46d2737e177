// PUBLISH: flags, packet identifier, Topic Name and Topic Alias (spec 3.3).
#include <gtest/gtest.h>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

Publish MakePublish(std::string_view topic, uint8_t qos = 0, uint16_t packet_id = 0,
                    std::string_view payload = {}) {
  Publish publish;
  publish.topic = topic;
  publish.qos = qos;
  publish.packet_id = packet_id;
  publish.payload = payload;
  return publish;
}

// ---- Accepted -------------------------------------------------------------------------

TEST(DecodePublish, AcceptsQos0WithEmptyPayload) {
  // 30 03: PUBLISH QoS 0, 3 bytes. 00 01 61: topic "a". No packet id at QoS 0.
  EXPECT_TRUE(DecodesTo(Hex("30 03 00 01 61"), ClientToServer(), kV311, MakePublish("a")));
}

TEST(DecodePublish, TakesEverythingAfterTheHeaderAsPayload) {
  // 31 08: PUBLISH QoS 0 retain, 8 bytes. 00 01 61: topic "a". 68 00 69 FF 21: payload,
  // binary (a zero byte and an invalid UTF-8 byte are fine there).
  Publish expected = MakePublish("a", 0, 0, std::string_view("h\0i\xFF!", 5));
  expected.retain = true;
  EXPECT_TRUE(DecodesTo(Hex("31 08 00 01 61 68 00 69 FF 21"), ClientToServer(), kV311, expected));
}

TEST(DecodePublish, AcceptsDupOnQos1) {
  // 3A 05: PUBLISH DUP, QoS 1, 5 bytes. 00 01 61: topic "a". 00 07: packet id 7.
  Publish expected = MakePublish("a", 1, 7);
  expected.dup = true;
  EXPECT_TRUE(DecodesTo(Hex("3A 05 00 01 61 00 07"), ServerToClient(), kV311, expected));
}

TEST(DecodePublish, AcceptsQos2WithPayload) {
  // 34 07: PUBLISH QoS 2, 7 bytes. 00 01 61: topic "a". FF FF: packet id 65535.
  // 6F 6B: payload "ok".
  EXPECT_TRUE(DecodesTo(Hex("34 07 00 01 61 FF FF 6F 6B"), ClientToServer(), kV311,
                        MakePublish("a", 2, 65535, "ok")));
}

TEST(DecodePublish, AcceptsV5PublishWithoutProperties) {
  // 30 07: PUBLISH, 7 bytes. 00 01 61: topic "a". 00: no properties. 68 69 21: "hi!".
  EXPECT_TRUE(DecodesTo(Hex("30 07 00 01 61 00 68 69 21"), ClientToServer(), kV5,
                        MakePublish("a", 0, 0, "hi!")));
}

TEST(DecodePublish, AcceptsEmptyTopicWithTopicAliasInV5) {
  // 30 06: PUBLISH, 6 bytes. 00 00: empty topic. 03: 3 bytes of properties.
  // 23 00 01: Topic Alias 1, which stands for the topic (spec 3.3.2.3.4).
  Publish expected = MakePublish("");
  expected.properties.AddInteger(PropertyId::kTopicAlias, 1);
  EXPECT_TRUE(DecodesTo(Hex("30 06 00 00 03 23 00 01"), ClientToServer(), kV5, expected));
}

// ---- Flags ----------------------------------------------------------------------------

TEST(DecodePublish, RejectsQos3) {
  // 36: PUBLISH with both QoS bits set [MQTT-3.3.1-4]. 05: length. 00 01 61: topic "a".
  // 00 01: packet id 1.
  EXPECT_TRUE(Refuses(Hex("36 05 00 01 61 00 01"), ClientToServer(), kV311,
                      DecodeError::kInvalidQos, kMalformed));
  EXPECT_TRUE(Refuses(Hex("36 05 00 01 61 00 01"), ServerToClient(), kV5, DecodeError::kInvalidQos,
                      kMalformed));
}

TEST(DecodePublish, RejectsDupOnQos0) {
  // 38: PUBLISH with DUP set and QoS 0 [MQTT-3.3.1-2]. 03: length. 00 01 61: topic "a".
  EXPECT_TRUE(Refuses(Hex("38 03 00 01 61"), ClientToServer(), kV311, DecodeError::kDupWithQos0,
                      kMalformed));
}

// ---- Packet identifier ----------------------------------------------------------------

TEST(DecodePublish, RejectsQos1PublishTruncatedBeforePacketId) {
  // 32 03: PUBLISH QoS 1, 3 bytes. 00 01 61: topic "a", then no room for the packet id.
  EXPECT_TRUE(
      Refuses(Hex("32 03 00 01 61"), ClientToServer(), kV311, DecodeError::kTruncated, kMalformed));
}

TEST(DecodePublish, RejectsQos1PublishWithHalfAPacketId) {
  // 32 04: PUBLISH QoS 1, 4 bytes. 00 01 61: topic "a". 00: one byte of the packet id.
  EXPECT_TRUE(Refuses(Hex("32 04 00 01 61 00"), ClientToServer(), kV311, DecodeError::kTruncated,
                      kMalformed));
}

TEST(DecodePublish, RejectsTopicLengthPastRemainingLength) {
  // 30 03: PUBLISH QoS 0, 3 bytes. 00 05: a 5-byte topic, but only 61 follows.
  EXPECT_TRUE(
      Refuses(Hex("30 03 00 05 61"), ClientToServer(), kV311, DecodeError::kTruncated, kMalformed));
}

TEST(DecodePublish, RejectsV5PublishWithoutPropertyLength) {
  // 30 03: PUBLISH QoS 0, 3 bytes. 00 01 61: topic "a". MQTT 5 requires a Property
  // Length after the topic, and the packet ends.
  EXPECT_TRUE(
      Refuses(Hex("30 03 00 01 61"), ClientToServer(), kV5, DecodeError::kTruncated, kMalformed));
}

TEST(DecodePublish, RejectsZeroPacketIdOnQos1) {
  // 32 05: PUBLISH QoS 1, 5 bytes. 00 01 61: topic "a". 00 00: packet id 0
  // [MQTT-2.2.1-3].
  EXPECT_TRUE(Refuses(Hex("32 05 00 01 61 00 00"), ClientToServer(), kV311,
                      DecodeError::kZeroPacketId, kMalformed));
}

TEST(DecodePublish, RejectsZeroPacketIdOnQos2) {
  // 34 05: PUBLISH QoS 2, 5 bytes. 00 01 61: topic "a". 00 00: packet id 0.
  EXPECT_TRUE(Refuses(Hex("34 05 00 01 61 00 00"), ServerToClient(), kV5,
                      DecodeError::kZeroPacketId, kMalformed));
}

// ---- Topic Name -----------------------------------------------------------------------

TEST(DecodePublish, RejectsPlusInTopicName) {
  // 30 05: PUBLISH QoS 0, 5 bytes. 00 03 61 2F 2B: topic "a/+" [MQTT-3.3.2-2].
  EXPECT_TRUE(Refuses(Hex("30 05 00 03 61 2F 2B"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicName, kMalformed));
}

TEST(DecodePublish, RejectsHashInTopicName) {
  // 30 05: PUBLISH QoS 0, 5 bytes. 00 03 61 2F 23: topic "a/#" [MQTT-3.3.2-2].
  EXPECT_TRUE(Refuses(Hex("30 05 00 03 61 2F 23"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicName, kMalformed));
}

TEST(DecodePublish, RejectsWildcardTopicFromServer) {
  // 30 03: PUBLISH QoS 0, 3 bytes. 00 01 23: topic "#". The rule binds servers too.
  EXPECT_TRUE(Refuses(Hex("30 03 00 01 23"), ServerToClient(), kV311,
                      DecodeError::kInvalidTopicName, kMalformed));
}

TEST(DecodePublish, RejectsWildcardInsideATopicLevel) {
  // 30 06: PUBLISH QoS 0 (v5), 6 bytes. 00 03 61 2B 62: topic "a+b". 00: no properties.
  EXPECT_TRUE(Refuses(Hex("30 06 00 03 61 2B 62 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidTopicName, kMalformed));
}

TEST(DecodePublish, RejectsEmptyTopicInV311) {
  // 30 02: PUBLISH QoS 0, 2 bytes. 00 00: empty topic [MQTT-4.7.3-1].
  EXPECT_TRUE(Refuses(Hex("30 02 00 00"), ClientToServer(), kV311, DecodeError::kEmptyTopicName,
                      kProtocolError));
}

TEST(DecodePublish, RejectsEmptyTopicWithoutTopicAliasInV5) {
  // 30 03: PUBLISH QoS 0, 3 bytes. 00 00: empty topic. 00: no properties, so no Topic
  // Alias to stand for it (spec 3.3.2.1: a Protocol Error).
  EXPECT_TRUE(Refuses(Hex("30 03 00 00 00"), ClientToServer(), kV5, DecodeError::kEmptyTopicName,
                      kProtocolError));
}

TEST(DecodePublish, RejectsTopicAliasZero) {
  // 30 07: PUBLISH QoS 0, 7 bytes. 00 01 61: topic "a". 03: 3 bytes of properties.
  // 23 00 00: Topic Alias 0 [MQTT-3.3.2-8].
  EXPECT_TRUE(Refuses(Hex("30 07 00 01 61 03 23 00 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidTopicAlias, ReasonCode::kTopicAliasInvalid));
}

TEST(DecodePublish, RejectsTopicAliasZeroFromServer) {
  // The same bytes from the server: Topic Alias 0 is refused in both directions.
  EXPECT_TRUE(Refuses(Hex("30 07 00 01 61 03 23 00 00"), ServerToClient(), kV5,
                      DecodeError::kInvalidTopicAlias, ReasonCode::kTopicAliasInvalid));
}

TEST(DecodePublish, ReturnsViewsIntoTheFrame) {
  // 32 0A: PUBLISH QoS 1, 10 bytes. 00 03 61 2F 62: topic "a/b". 00 05: packet id 5.
  // 70 61 79: payload "pay".
  const ByteVector bytes = Hex("32 0A 00 03 61 2F 62 00 05 70 61 79");
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  decoder.Feed(bytes);
  const DecodeResult result = decoder.Next();
  ASSERT_TRUE(std::holds_alternative<Frame>(result));
  const Frame& frame = std::get<Frame>(result);
  const auto* publish = std::get_if<Publish>(&frame.packet);
  ASSERT_NE(publish, nullptr);
  const auto* raw = reinterpret_cast<const char*>(frame.raw.data());
  EXPECT_EQ(publish->topic.data(), raw + 4);
  EXPECT_EQ(publish->payload.data(), raw + 9);
  EXPECT_EQ(publish->payload.size(), 3u);
}

}  // namespace
}  // namespace moat::mqtt::test
