// UTF-8 Encoded Strings (spec 1.5.4 in v5, 1.5.3 in 3.1.1): every string field must be
// well-formed UTF-8 without U+0000 [MQTT-1.5.4-1, -2]; moat also refuses the control
// characters U+0001..U+001F and U+007F..U+009F, which senders SHOULD NOT use and
// receivers MAY treat as malformed (spec 1.5.4). Binary fields are not checked.
//
// The topic tests use a 3.1.1 QoS 0 PUBLISH: 30 LL | 00 NN <topic bytes>.
#include <gtest/gtest.h>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

::testing::AssertionResult RefusesUtf8(const ByteVector& bytes,
                                       DecoderOptions options = ClientToServer(),
                                       ProtocolVersion version = kV311) {
  return Refuses(bytes, options, version, DecodeError::kInvalidUtf8, kMalformed);
}

::testing::AssertionResult AcceptsTopic(std::string_view topic) {
  Publish expected;
  expected.topic = topic;
  return DecodesTo(WithFixedHeader(0x30, Str(topic)), ClientToServer(), kV311, expected);
}

// ---- Refused in a topic -------------------------------------------------------------

TEST(Utf8, RejectsOverlongTwoByteNul) {
  // 30 04: PUBLISH, 4 bytes. 00 02 C0 80: topic, U+0000 as an overlong 2-byte sequence.
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 C0 80")));
}

TEST(Utf8, RejectsOverlongThreeByteSequence) {
  // 30 05: PUBLISH, 5 bytes. 00 03 E0 80 80: topic, U+0000 as an overlong 3-byte sequence.
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 E0 80 80")));
}

TEST(Utf8, RejectsOverlongSlash) {
  // 30 06: PUBLISH, 6 bytes. 00 04 61 C0 AF 62: "a", '/' as overlong C0 AF, "b": must not
  // sneak a level separator past a filter.
  EXPECT_TRUE(RefusesUtf8(Hex("30 06 00 04 61 C0 AF 62")));
}

TEST(Utf8, RejectsSurrogate) {
  // 30 05: PUBLISH, 5 bytes. 00 03 ED A0 80: topic, U+D800, a UTF-16 surrogate
  // [MQTT-1.5.4-1].
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 ED A0 80")));
}

TEST(Utf8, RejectsLastSurrogate) {
  // 30 05: PUBLISH, 5 bytes. 00 03 ED BF BF: topic, U+DFFF.
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 ED BF BF")));
}

TEST(Utf8, RejectsNulCharacter) {
  // 30 03: PUBLISH, 3 bytes. 00 01 00: topic, U+0000 [MQTT-1.5.4-2].
  EXPECT_TRUE(RefusesUtf8(Hex("30 03 00 01 00")));
}

TEST(Utf8, RejectsEmbeddedNul) {
  // 30 05: PUBLISH, 5 bytes. 00 03 61 00 62: topic "a", U+0000, "b".
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 61 00 62")));
}

TEST(Utf8, RejectsTwoNuls) {
  // 30 04: PUBLISH, 4 bytes. 00 02 00 00: topic of two U+0000.
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 00 00")));
}

TEST(Utf8, RejectsSequenceTruncatedAtEndOfString) {
  // 30 04: PUBLISH, 4 bytes. 00 02 E2 82: the first two bytes of E2 82 AC (U+20AC).
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 E2 82")));
}

TEST(Utf8, RejectsSequenceInterruptedByAscii) {
  // 30 05: PUBLISH, 5 bytes. 00 03 F0 9F 61: a 4-byte lead, one continuation, then "a".
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 F0 9F 61")));
}

TEST(Utf8, RejectsCodePointAboveMaximum) {
  // 30 06: PUBLISH, 6 bytes. 00 04 F4 90 80 80: U+110000, past U+10FFFF.
  EXPECT_TRUE(RefusesUtf8(Hex("30 06 00 04 F4 90 80 80")));
}

TEST(Utf8, RejectsLeadByteF5) {
  // 30 06: PUBLISH, 6 bytes. 00 04 F5 80 80 80: F5 can never start a sequence.
  EXPECT_TRUE(RefusesUtf8(Hex("30 06 00 04 F5 80 80 80")));
}

TEST(Utf8, RejectsByteFF) {
  // 30 04: PUBLISH, 4 bytes. 00 02 61 FF: "a" then FF, never valid in UTF-8.
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 61 FF")));
}

TEST(Utf8, RejectsLoneContinuationByte) {
  // 30 03: PUBLISH, 3 bytes. 00 01 80: topic, a continuation byte with no lead.
  EXPECT_TRUE(RefusesUtf8(Hex("30 03 00 01 80")));
}

TEST(Utf8, RejectsControlCharacterU0001) {
  // 30 03: PUBLISH, 3 bytes. 00 01 01: topic, U+0001.
  EXPECT_TRUE(RefusesUtf8(Hex("30 03 00 01 01")));
}

TEST(Utf8, RejectsControlCharacterU001F) {
  // 30 04: PUBLISH, 4 bytes. 00 02 61 1F: "a", U+001F.
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 61 1F")));
}

TEST(Utf8, RejectsDeleteCharacter) {
  // 30 03: PUBLISH, 3 bytes. 00 01 7F: topic, U+007F.
  EXPECT_TRUE(RefusesUtf8(Hex("30 03 00 01 7F")));
}

TEST(Utf8, RejectsC1ControlCharacter) {
  // 30 04: PUBLISH, 4 bytes. 00 02 C2 85: topic, U+0085 (NEXT LINE).
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 C2 85")));
}

TEST(Utf8, RejectsLastC1ControlCharacter) {
  // 30 04: PUBLISH, 4 bytes. 00 02 C2 9F: topic, U+009F.
  EXPECT_TRUE(RefusesUtf8(Hex("30 04 00 02 C2 9F")));
}

TEST(Utf8, RejectsNoncharacterUFFFF) {
  // 30 05: PUBLISH, 5 bytes. 00 03 EF BF BF: topic, U+FFFF, a non-character, which
  // receivers may treat as malformed (spec 1.5.4).
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 EF BF BF")));
}

TEST(Utf8, RejectsNoncharacterUFFFE) {
  // 30 05: PUBLISH, 5 bytes. 00 03 EF BF BE: topic, U+FFFE.
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 EF BF BE")));
}

TEST(Utf8, RejectsNoncharacterUFDD0) {
  // 30 05: PUBLISH, 5 bytes. 00 03 EF B7 90: topic, U+FDD0, first of U+FDD0..U+FDEF.
  EXPECT_TRUE(RefusesUtf8(Hex("30 05 00 03 EF B7 90")));
}

TEST(Utf8, RejectsNoncharacterU10FFFF) {
  // 30 06: PUBLISH, 6 bytes. 00 04 F4 8F BF BF: topic, U+10FFFF, the last code point
  // and a non-character.
  EXPECT_TRUE(RefusesUtf8(Hex("30 06 00 04 F4 8F BF BF")));
}

// ---- Accepted -------------------------------------------------------------------------

TEST(Utf8, AcceptsBoundaryCodePoints) {
  EXPECT_TRUE(AcceptsTopic("\x20"));              // U+0020, first after the C0 controls
  EXPECT_TRUE(AcceptsTopic("\x7E"));              // U+007E, last before U+007F
  EXPECT_TRUE(AcceptsTopic("\xC2\xA0"));          // U+00A0, first after the C1 controls
  EXPECT_TRUE(AcceptsTopic("caf\xC3\xA9"));       // "café"
  EXPECT_TRUE(AcceptsTopic("\xE0\xA0\x80"));      // U+0800, smallest 3-byte sequence
  EXPECT_TRUE(AcceptsTopic("\xED\x9F\xBF"));      // U+D7FF, just before the surrogates
  EXPECT_TRUE(AcceptsTopic("\xEE\x80\x80"));      // U+E000, just after them
  EXPECT_TRUE(AcceptsTopic("\xF0\x90\x80\x80"));  // U+10000, smallest 4-byte sequence
  EXPECT_TRUE(AcceptsTopic("\xF0\x9F\x98\x80"));  // U+1F600, an emoji
  EXPECT_TRUE(AcceptsTopic("\xEF\xB7\x8F"));      // U+FDCF, before the non-characters
  EXPECT_TRUE(AcceptsTopic("\xEF\xB7\xB0"));      // U+FDF0, after U+FDEF
  EXPECT_TRUE(AcceptsTopic("\xEF\xBF\xBD"));      // U+FFFD, the replacement character
  EXPECT_TRUE(AcceptsTopic("\xF4\x8F\xBF\xBD"));  // U+10FFFD, the last character
}

TEST(Utf8, KeepsByteOrderMark) {
  // U+FEFF at the start must be kept, not skipped [MQTT-1.5.4-3].
  EXPECT_TRUE(
      AcceptsTopic("\xEF\xBB\xBF"
                   "a/b"));
}

// ---- Other string fields ---------------------------------------------------------------

TEST(Utf8, RejectsInvalidClientId) {
  // 10 0E: CONNECT, 14 bytes. 00 04 "MQTT" 04: 3.1.1. 02: clean session. 00 3C: keep
  // alive. 00 02 C0 80: client id, an overlong U+0000.
  EXPECT_TRUE(RefusesUtf8(Hex("10 0E 00 04 4D 51 54 54 04 02 00 3C 00 02 C0 80"), ClientToServer(),
                          kNoVersion));
}

TEST(Utf8, RejectsInvalidUsername) {
  // 10 12: CONNECT, 18 bytes. 00 04 "MQTT" 04. 82: username, clean session. 00 3C.
  // 00 01 63: client id "c". 00 03 ED A0 80: username, a surrogate.
  EXPECT_TRUE(RefusesUtf8(Hex("10 12 00 04 4D 51 54 54 04 82 00 3C 00 01 63 00 03 ED A0 80"),
                          ClientToServer(), kNoVersion));
}

TEST(Utf8, RejectsInvalidWillTopic) {
  // 10 13: CONNECT, 19 bytes. 00 04 "MQTT" 04. 06: will, clean session. 00 3C.
  // 00 01 63: client id. 00 02 61 00: will topic "a" U+0000. 00 00: empty will payload.
  EXPECT_TRUE(RefusesUtf8(Hex("10 13 00 04 4D 51 54 54 04 06 00 3C 00 01 63 00 02 61 00 00 00"),
                          ClientToServer(), kNoVersion));
}

TEST(Utf8, RejectsInvalidSubscribeFilter) {
  // 82 07: SUBSCRIBE, 7 bytes. 00 01: id 1. 00 02 C0 80: filter, overlong U+0000.
  // 00: QoS 0.
  EXPECT_TRUE(RefusesUtf8(Hex("82 07 00 01 00 02 C0 80 00")));
}

TEST(Utf8, RejectsInvalidUnsubscribeFilter) {
  // A2 06: UNSUBSCRIBE, 6 bytes. 00 01: id 1. 00 02 61 80: "a" and a lone continuation.
  EXPECT_TRUE(RefusesUtf8(Hex("A2 06 00 01 00 02 61 80")));
}

TEST(Utf8, RejectsInvalidStringProperty) {
  // 30 09: PUBLISH (v5), 9 bytes. 00 01 61: topic "a". 05: 5 bytes of properties.
  // 03 00 02 C0 80: Content Type, an overlong U+0000.
  EXPECT_TRUE(RefusesUtf8(Hex("30 09 00 01 61 05 03 00 02 C0 80"), ClientToServer(), kV5));
}

TEST(Utf8, RejectsInvalidUserPropertyValue) {
  // 30 0B: PUBLISH (v5), 11 bytes. 00 01 61: topic "a". 07: 7 bytes of properties.
  // 26 00 01 6B 00 01 01: User Property "k" = U+0001.
  EXPECT_TRUE(RefusesUtf8(Hex("30 0B 00 01 61 07 26 00 01 6B 00 01 01"), ClientToServer(), kV5));
}

TEST(Utf8, DoesNotCheckBinaryFields) {
  // 30 09: PUBLISH (v5), 9 bytes. 00 01 61: topic "a". 04: 4 bytes of properties.
  // 09 00 01 FF: Correlation Data, binary. C0: payload, binary.
  Publish expected;
  expected.topic = "a";
  expected.properties.AddString(PropertyId::kCorrelationData, "\xFF");
  expected.payload = "\xC0";
  EXPECT_TRUE(DecodesTo(Hex("30 09 00 01 61 04 09 00 01 FF C0"), ClientToServer(), kV5, expected));
}

}  // namespace
}  // namespace moat::mqtt::test
