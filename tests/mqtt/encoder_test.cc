// Encode(): refusals, and that `out` is only ever appended to, never touched on error.
#include "proxy/mqtt/encoder.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <string>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

const std::vector<uint8_t> kPrefix = {0xAB, 0xCD, 0xEF};

// Encode into a buffer that already holds kPrefix; on error it must still hold exactly
// kPrefix, with no partial packet appended.
::testing::AssertionResult FailsWith(const Packet& packet, ProtocolVersion version,
                                     EncodeError expected) {
  std::vector<uint8_t> out = kPrefix;
  const EncodeError error = Encode(packet, version, out);
  if (error != expected) {
    return ::testing::AssertionFailure() << "Encode(" << Describe(packet) << ") returned "
                                         << Name(error) << ", expected " << Name(expected);
  }
  if (out != kPrefix) {
    return ::testing::AssertionFailure()
           << "out changed on error: " << ToHex(out) << " (size " << out.size() << ")";
  }
  return ::testing::AssertionSuccess();
}

TEST(Encoder, AppendsToOut) {
  std::vector<uint8_t> out = kPrefix;
  ASSERT_EQ(Encode(Pingreq{}, kV311, out), EncodeError::kNone);
  EXPECT_EQ(ToHex(out), "AB CD EF C0 00");
  ASSERT_EQ(Encode(MakeAck<Puback>(258), kV311, out), EncodeError::kNone);
  EXPECT_EQ(ToHex(out), "AB CD EF C0 00 40 02 01 02");
}

TEST(Encoder, RefusesTopicOf65536Bytes) {
  const std::string topic(65'536, 't');
  Publish publish;
  publish.topic = topic;
  EXPECT_TRUE(FailsWith(publish, kV311, EncodeError::kFieldTooLong));
  EXPECT_TRUE(FailsWith(publish, kV5, EncodeError::kFieldTooLong));
}

TEST(Encoder, AcceptsTopicOf65535Bytes) {
  const std::string topic(65'535, 't');
  Publish publish;
  publish.topic = topic;
  publish.payload = "p";
  const ByteVector bytes = EncodeOrFail(publish, kV311);
  // 30 | Remaining Length 65,538 = 82 80 04 | FF FF | topic | "p".
  ASSERT_EQ(bytes.size(), 4u + 2u + 65'535u + 1u);
  EXPECT_EQ(ToHex(std::span(bytes).first(6)), "30 82 80 04 FF FF");
  EXPECT_TRUE(RoundTrips(publish, kV311, Direction::kClientToServer));
}

TEST(Encoder, RefusesOtherFieldsOver65535Bytes) {
  const std::string big(65'536, 'x');
  Connect client_id;
  client_id.client_id = big;
  EXPECT_TRUE(FailsWith(client_id, kV311, EncodeError::kFieldTooLong));

  Connect username;
  username.client_id = "c";
  username.username = big;
  EXPECT_TRUE(FailsWith(username, kV311, EncodeError::kFieldTooLong));

  Connect password;
  password.client_id = "c";
  password.username = "u";
  password.password = big;
  EXPECT_TRUE(FailsWith(password, kV311, EncodeError::kFieldTooLong));

  Connect will_payload;
  will_payload.client_id = "c";
  will_payload.will = MakeWill(0, false, "w", big);
  EXPECT_TRUE(FailsWith(will_payload, kV311, EncodeError::kFieldTooLong));

  // Discovered late, after the topic and other properties were written.
  Publish user_property;
  user_property.topic = "a";
  user_property.properties.AddUserProperty("ok", "ok");
  user_property.properties.AddUserProperty("k", big);
  EXPECT_TRUE(FailsWith(user_property, kV5, EncodeError::kFieldTooLong));

  Subscribe subscribe;
  subscribe.packet_id = 1;
  subscribe.subscriptions = {{.filter = "a"}, {.filter = big}};
  EXPECT_TRUE(FailsWith(subscribe, kV311, EncodeError::kFieldTooLong));

  Unsubscribe unsubscribe;
  unsubscribe.packet_id = 1;
  unsubscribe.filters = {"a", big};
  EXPECT_TRUE(FailsWith(unsubscribe, kV5, EncodeError::kFieldTooLong));
}

TEST(Encoder, RefusesAuthBeforeV5) {
  Auth auth = WithReason<Auth>(0x18);
  auth.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM");
  EXPECT_TRUE(FailsWith(auth, kV311, EncodeError::kInvalidForVersion));
  EXPECT_TRUE(FailsWith(auth, kV31, EncodeError::kInvalidForVersion));
  EXPECT_TRUE(FailsWith(Auth{}, kV311, EncodeError::kInvalidForVersion));
}

TEST(Encoder, RefusesQos1PublishWithPacketIdZero) {
  Publish publish;
  publish.qos = 1;
  publish.topic = "a";
  publish.packet_id = 0;
  EXPECT_TRUE(FailsWith(publish, kV311, EncodeError::kInvalidForVersion));
  EXPECT_TRUE(FailsWith(publish, kV5, EncodeError::kInvalidForVersion));
  publish.qos = 2;
  EXPECT_TRUE(FailsWith(publish, kV311, EncodeError::kInvalidForVersion));
}

TEST(Encoder, RefusesQos3Publish) {
  Publish publish;
  publish.qos = 3;
  publish.topic = "a";
  publish.packet_id = 1;
  EXPECT_TRUE(FailsWith(publish, kV311, EncodeError::kInvalidForVersion));
}

// moat encodes SUBSCRIBEs with some filters removed; if all are removed the result must
// not go to the broker as a protocol violation [MQTT-3.8.3-3, MQTT-3.10.3-2].
TEST(Encoder, RefusesSubscribeWithoutFilters) {
  Subscribe subscribe;
  subscribe.packet_id = 1;
  EXPECT_TRUE(FailsWith(subscribe, kV311, EncodeError::kInvalidForVersion));
  EXPECT_TRUE(FailsWith(subscribe, kV5, EncodeError::kInvalidForVersion));
}

TEST(Encoder, RefusesUnsubscribeWithoutFilters) {
  Unsubscribe unsubscribe;
  unsubscribe.packet_id = 1;
  EXPECT_TRUE(FailsWith(unsubscribe, kV311, EncodeError::kInvalidForVersion));
  EXPECT_TRUE(FailsWith(unsubscribe, kV5, EncodeError::kInvalidForVersion));
}

TEST(Encoder, RefusesRemainingLengthOverTheMaximum) {
  // A 268,435,453-byte payload plus the 3-byte variable header of topic "a" is one byte
  // over the largest Remaining Length. The payload is untouched zero pages, so the
  // test costs no memory unless the encoder copies before checking.
  constexpr size_t kPayloadSize = kMaxRemainingLength - 3 + 1;
  void* pages = mmap(nullptr, kPayloadSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(pages, MAP_FAILED);
  Publish publish;
  publish.topic = "a";
  publish.payload = std::string_view(static_cast<const char*>(pages), kPayloadSize);
  EXPECT_TRUE(FailsWith(publish, kV311, EncodeError::kPacketTooLarge));
  munmap(pages, kPayloadSize);
}

}  // namespace
}  // namespace moat::mqtt::test
