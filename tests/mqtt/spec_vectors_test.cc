// Byte strings and examples taken from the MQTT 3.1.1 and 5.0 specifications.
#include <gtest/gtest.h>

#include <string>

#include "proxy/mqtt/decoder.h"
#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

// 3.1.1 table 2.4 "Size of Remaining Length field": the boundary values.
struct RemainingLengthVector {
  uint32_t value;
  const char* hex;
};
constexpr RemainingLengthVector kRemainingLengths[] = {
    {0, "00"},
    {127, "7F"},
    {128, "80 01"},
    {16'383, "FF 7F"},
    {16'384, "80 80 01"},
    {2'097'151, "FF FF 7F"},
    {2'097'152, "80 80 80 01"},
    {268'435'455, "FF FF FF 7F"},
};

// The value a fixed header announces is pinned down by max_packet_size: a limit of
// exactly 1 + header + value waits for the body, one byte less is refused at once.
TEST(SpecVectors, DecodesRemainingLengthTableFromFixedHeader) {
  for (const RemainingLengthVector& vector : kRemainingLengths) {
    if (vector.value == 0) continue;  // a PUBLISH needs a body; see the PINGREQ test
    SCOPED_TRACE(vector.hex);
    const ByteVector header = Cat({Hex("30"), Hex(vector.hex)});
    const uint32_t total = static_cast<uint32_t>(header.size()) + vector.value;
    for (const size_t chunk_size : {kWhole, size_t{1}}) {
      const DecodeOutcome fits = DecodeAll(header, ClientToServer(total), kV311, chunk_size);
      EXPECT_EQ(Name(fits.error), Name(DecodeError::kNone));
      EXPECT_TRUE(fits.frames.empty());
      EXPECT_EQ(fits.buffered, header.size());
      const DecodeOutcome over = DecodeAll(header, ClientToServer(total - 1), kV311, chunk_size);
      EXPECT_EQ(Name(over.error), Name(DecodeError::kPacketTooLarge));
    }
  }
}

TEST(SpecVectors, DecodesRemainingLengthZero) {
  // C0 00: PINGREQ with Remaining Length 0, the first row of the table.
  EXPECT_TRUE(DecodesTo(Hex("C0 00"), ClientToServer(), kV311, Pingreq{}));
  EXPECT_EQ(ToHex(EncodeOrFail(Pingreq{}, kV311)), "C0 00");
}

TEST(SpecVectors, EncodesAndDecodesRemainingLengthTableUpTo2097152) {
  for (const RemainingLengthVector& vector : kRemainingLengths) {
    if (vector.value < 3 || vector.value > 2'097'152) continue;
    SCOPED_TRACE(vector.hex);
    // PUBLISH QoS 0 to "a" (3 bytes of variable header) with value - 3 payload bytes.
    const std::string payload(vector.value - 3, 'p');
    Publish publish;
    publish.topic = "a";
    publish.payload = payload;
    const ByteVector bytes = EncodeOrFail(publish, kV311);
    const ByteVector header = Cat({Hex("30"), Hex(vector.hex), Hex("00 01 61")});
    ASSERT_GE(bytes.size(), header.size());
    EXPECT_EQ(ToHex(std::span(bytes).first(header.size())), ToHex(header));
    EXPECT_EQ(bytes.size(), header.size() + payload.size());
    EXPECT_TRUE(DecodesTo(bytes, ClientToServer(), kV311, publish));
  }
}

TEST(SpecVectors, AcceptsUtf8ExampleFromV311) {
  // 3.1.1 section 1.5.3.1 example: "A𪛔" (U+0041, U+2A6D4) is 00 05 41 F0 AA 9B 94.
  // 30 07: PUBLISH QoS 0, 7 bytes; the string is the topic.
  Publish expected;
  expected.topic = "A\xF0\xAA\x9B\x94";
  EXPECT_TRUE(DecodesTo(Hex("30 07 00 05 41 F0 AA 9B 94"), ClientToServer(), kV311, expected));
  EXPECT_TRUE(DecodesTo(Hex("30 07 00 05 41 F0 AA 9B 94"), ServerToClient(), kV311, expected));
}

TEST(SpecVectors, DecodesV311ConnectExample) {
  // 3.1.1 section 3.1.2.10 example: protocol name 00 04 "MQTT", level 4, flags CE (username,
  // password, will QoS 1, will flag, clean session), keep alive 00 0A; the payload
  // follows in the order of 3.1.3.
  const ByteVector bytes =
      Hex("10 26"                 // CONNECT, Remaining Length 38
          "00 04 4D 51 54 54 04"  // "MQTT", level 4
          "CE 00 0A"              // connect flags, keep alive 10
          "00 03 63 69 64"        // client id "cid"
          "00 03 77 2F 74"        // will topic "w/t"
          "00 04 62 79 65 21"     // will message "bye!"
          "00 04 75 73 65 72"     // username "user"
          "00 04 70 61 73 73");   // password "pass"
  Connect expected;
  expected.version = kV311;
  expected.clean_start = true;
  expected.keep_alive = 10;
  expected.client_id = "cid";
  expected.will = MakeWill(1, false, "w/t", "bye!");
  expected.username = "user";
  expected.password = "pass";
  EXPECT_TRUE(DecodesTo(bytes, ClientToServer(), kNoVersion, expected));
  EXPECT_EQ(ToHex(EncodeOrFail(expected, kV311)), ToHex(bytes));
}

TEST(SpecVectors, DecodesV5ConnectExample) {
  // 5.0 section 3.1.2.12 example: the same flags, keep alive 10, and properties 05
  // 11 00 00 00 0A (Session Expiry Interval 10).
  const ByteVector bytes =
      Hex("10 2D"                 // CONNECT, Remaining Length 45
          "00 04 4D 51 54 54 05"  // "MQTT", version 5
          "CE 00 0A"              // connect flags, keep alive 10
          "05 11 00 00 00 0A"     // properties: Session Expiry Interval 10
          "00 03 63 69 64"        // client id "cid"
          "00"                    // no will properties
          "00 03 77 2F 74"        // will topic "w/t"
          "00 04 62 79 65 21"     // will payload "bye!"
          "00 04 75 73 65 72"     // username "user"
          "00 04 70 61 73 73");   // password "pass"
  Connect expected;
  expected.version = kV5;
  expected.clean_start = true;
  expected.keep_alive = 10;
  expected.client_id = "cid";
  expected.will = MakeWill(1, false, "w/t", "bye!");
  expected.username = "user";
  expected.password = "pass";
  expected.properties.AddInteger(PropertyId::kSessionExpiryInterval, 10);
  EXPECT_TRUE(DecodesTo(bytes, ClientToServer(), kNoVersion, expected));
  EXPECT_EQ(ToHex(EncodeOrFail(expected, kV5)), ToHex(bytes));
}

TEST(SpecVectors, DecodesV311PublishVariableHeaderExample) {
  // 3.1.1 section 3.3.2.3 example: topic "a/b", packet identifier 10. 32 07: PUBLISH QoS 1.
  Publish expected;
  expected.qos = 1;
  expected.topic = "a/b";
  expected.packet_id = 10;
  EXPECT_TRUE(DecodesTo(Hex("32 07 00 03 61 2F 62 00 0A"), ClientToServer(), kV311, expected));
}

TEST(SpecVectors, DecodesV311SubscribeExample) {
  // 3.1.1 sections 3.8.2.1 and 3.8.3.1 examples: packet identifier 10, "a/b" QoS 1, "c/d" QoS 2.
  Subscribe expected;
  expected.packet_id = 10;
  expected.subscriptions = {{.filter = "a/b", .qos = 1}, {.filter = "c/d", .qos = 2}};
  EXPECT_TRUE(DecodesTo(Hex("82 0E 00 0A 00 03 61 2F 62 01 00 03 63 2F 64 02"), ClientToServer(),
                        kV311, expected));
}

TEST(SpecVectors, DecodesV311SubackExample) {
  // 3.1.1 section 3.9.3.1 example: Success QoS 0, Success QoS 2, Failure.
  Suback expected;
  expected.packet_id = 10;
  expected.reason_codes = {0x00, 0x02, 0x80};
  EXPECT_TRUE(DecodesTo(Hex("90 05 00 0A 00 02 80"), ServerToClient(), kV311, expected));
}

TEST(SpecVectors, DecodesV311UnsubscribeExample) {
  // 3.1.1 section 3.10.3.1 example: packet identifier 10, "a/b" and "c/d".
  Unsubscribe expected;
  expected.packet_id = 10;
  expected.filters = {"a/b", "c/d"};
  EXPECT_TRUE(DecodesTo(Hex("A2 0C 00 0A 00 03 61 2F 62 00 03 63 2F 64"), ClientToServer(), kV311,
                        expected));
}

TEST(SpecVectors, AcceptsTopicFilterExamples) {
  // 3.1.1 section 4.7.1.2-4.7.1.3 and 5.0 section 4.7.1.2-4.7.1.3: valid filters.
  for (std::string_view filter : {"sport/tennis/player1/#", "sport/#", "#", "+/tennis/#",
                                  "sport/+/player1", "+", "+/+", "/+", "sport/tennis/#"}) {
    SCOPED_TRACE(filter);
    Unsubscribe expected;
    expected.packet_id = 1;
    expected.filters = {filter};
    EXPECT_TRUE(DecodesTo(WithFixedHeader(0xA2, Cat({Hex("00 01"), Str(filter)})), ClientToServer(),
                          kV311, expected));
  }
}

TEST(SpecVectors, RejectsTopicFilterExamples) {
  // The invalid filters the same sections give.
  for (std::string_view filter : {"sport/tennis#", "sport/tennis/#/ranking", "sport+"}) {
    SCOPED_TRACE(filter);
    EXPECT_TRUE(Refuses(WithFixedHeader(0x82, Cat({Hex("00 01"), Str(filter), Hex("00")})),
                        ClientToServer(), kV311, DecodeError::kInvalidTopicFilter,
                        ReasonCode::kTopicFilterInvalid));
  }
}

}  // namespace
}  // namespace moat::mqtt::test
