// PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH: packet
// identifiers, reason codes and the short forms MQTT 5 allows.
#include <gtest/gtest.h>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

template <typename T>
T MakeResponse(uint16_t packet_id, uint8_t reason_code = 0) {
  T response;
  response.packet_id = packet_id;
  response.reason_code = reason_code;
  return response;
}

// ---- Publish responses ----------------------------------------------------------------

TEST(DecodeResponses, AcceptsV311PublishResponses) {
  // 40/50/62/70 02: PUBACK, PUBREC, PUBREL (flags 0010), PUBCOMP. 12 34: packet id 0x1234.
  EXPECT_TRUE(DecodesTo(Hex("40 02 12 34"), ClientToServer(), kV311, MakeResponse<Puback>(0x1234)));
  EXPECT_TRUE(DecodesTo(Hex("50 02 12 34"), ServerToClient(), kV311, MakeResponse<Pubrec>(0x1234)));
  EXPECT_TRUE(DecodesTo(Hex("62 02 12 34"), ClientToServer(), kV311, MakeResponse<Pubrel>(0x1234)));
  EXPECT_TRUE(
      DecodesTo(Hex("70 02 12 34"), ServerToClient(), kV311, MakeResponse<Pubcomp>(0x1234)));
}

TEST(DecodeResponses, RejectsZeroPacketIdOnPuback) {
  // 40 02: PUBACK, 2 bytes. 00 00: packet id 0 [MQTT-2.2.1-3].
  EXPECT_TRUE(
      Refuses(Hex("40 02 00 00"), ClientToServer(), kV311, DecodeError::kZeroPacketId, kMalformed));
}

TEST(DecodeResponses, RejectsZeroPacketIdOnPubrel) {
  // 62 02: PUBREL, 2 bytes. 00 00: packet id 0.
  EXPECT_TRUE(
      Refuses(Hex("62 02 00 00"), ServerToClient(), kV5, DecodeError::kZeroPacketId, kMalformed));
}

TEST(DecodeResponses, AcceptsV5PubackWithoutReasonCode) {
  // 40 02: PUBACK, 2 bytes. 00 01: packet id 1; Success is implied (spec 3.4.2.1).
  EXPECT_TRUE(DecodesTo(Hex("40 02 00 01"), ClientToServer(), kV5, MakeResponse<Puback>(1)));
}

TEST(DecodeResponses, AcceptsV5PubackWithoutPropertyLength) {
  // 40 03: PUBACK, 3 bytes. 00 01: packet id 1. 10: No matching subscribers; Property
  // Length omitted, as allowed when the Remaining Length is under 4 (spec 3.4.2.2).
  EXPECT_TRUE(
      DecodesTo(Hex("40 03 00 01 10"), ServerToClient(), kV5, MakeResponse<Puback>(1, 0x10)));
}

TEST(DecodeResponses, AcceptsV5PubrecWithReasonString) {
  // 50 0A: PUBREC, 10 bytes. 00 02: packet id 2. 97: Quota exceeded. 06: 6 bytes of
  // properties. 1F 00 03 71 75 6F: Reason String "quo".
  Pubrec expected = MakeResponse<Pubrec>(2, 0x97);
  expected.properties.AddString(PropertyId::kReasonString, "quo");
  EXPECT_TRUE(
      DecodesTo(Hex("50 0A 00 02 97 06 1F 00 03 71 75 6F"), ServerToClient(), kV5, expected));
}

TEST(DecodeResponses, RejectsUndefinedPubackReasonCode) {
  // 40 04: PUBACK, 4 bytes. 00 01: packet id 1. 05: not a PUBACK reason code (spec
  // 3.4.2.1). 00: no properties.
  EXPECT_TRUE(Refuses(Hex("40 04 00 01 05 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidReasonCode, kProtocolError));
}

TEST(DecodeResponses, RejectsPubackReasonCodeOnPubrel) {
  // 62 04: PUBREL, 4 bytes. 00 01: packet id 1. 10: No matching subscribers, defined for
  // PUBACK and PUBREC but not PUBREL (only 00 and 92, spec 3.6.2.1). 00: no properties.
  EXPECT_TRUE(Refuses(Hex("62 04 00 01 10 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidReasonCode, kProtocolError));
}

TEST(DecodeResponses, RejectsUndefinedPubcompReasonCode) {
  // 70 04: PUBCOMP, 4 bytes. 00 01: packet id 1. 80: defined for PUBACK, not PUBCOMP
  // (only 00 and 92, spec 3.7.2.1). 00: no properties.
  EXPECT_TRUE(Refuses(Hex("70 04 00 01 80 00"), ServerToClient(), kV5,
                      DecodeError::kInvalidReasonCode, kProtocolError));
}

TEST(DecodeResponses, RejectsPropertyLengthPastTheEnd) {
  // 40 04: PUBACK, 4 bytes. 00 01: packet id 1. 00: Success. 05: 5 bytes of properties,
  // none of which follow.
  EXPECT_TRUE(Refuses(Hex("40 04 00 01 00 05"), ClientToServer(), kV5, DecodeError::kTruncated,
                      kMalformed));
}

// ---- SUBACK and UNSUBACK ------------------------------------------------------------

TEST(DecodeResponses, AcceptsV311SubackWithFailure) {
  // 90 05: SUBACK, 5 bytes. 00 01: packet id 1. 00 02 80: QoS 0, QoS 2, Failure.
  Suback expected;
  expected.packet_id = 1;
  expected.reason_codes = {0x00, 0x02, 0x80};
  EXPECT_TRUE(DecodesTo(Hex("90 05 00 01 00 02 80"), ServerToClient(), kV311, expected));
}

TEST(DecodeResponses, RejectsReservedV311SubackReturnCode) {
  // 90 03: SUBACK, 3 bytes. 00 01: packet id 1. 03: reserved [MQTT-3.9.3-2 in 3.1.1].
  EXPECT_TRUE(Refuses(Hex("90 03 00 01 03"), ServerToClient(), kV311,
                      DecodeError::kInvalidReasonCode, kProtocolError));
}

TEST(DecodeResponses, RejectsUndefinedV5SubackReasonCode) {
  // 90 05: SUBACK, 5 bytes. 00 01: packet id 1. 00: no properties. 01: Granted QoS 1.
  // 90: Topic Name invalid, which SUBACK does not define (spec 3.9.3).
  EXPECT_TRUE(Refuses(Hex("90 05 00 01 00 01 90"), ServerToClient(), kV5,
                      DecodeError::kInvalidReasonCode, kProtocolError));
}

TEST(DecodeResponses, AcceptsV311UnsubackWithoutReasonCodes) {
  // B0 02: UNSUBACK, 2 bytes. 00 07: packet id 7.
  Unsuback expected;
  expected.packet_id = 7;
  EXPECT_TRUE(DecodesTo(Hex("B0 02 00 07"), ServerToClient(), kV311, expected));
}

TEST(DecodeResponses, RejectsReasonCodesOnV311Unsuback) {
  // B0 03: UNSUBACK, 3 bytes. 00 07: packet id 7. 00: a reason code, MQTT 5 only.
  EXPECT_TRUE(Refuses(Hex("B0 03 00 07 00"), ServerToClient(), kV311, DecodeError::kTrailingBytes,
                      kMalformed));
}

TEST(DecodeResponses, AcceptsV5UnsubackReasonCodes) {
  // B0 05: UNSUBACK, 5 bytes. 00 07: packet id 7. 00: no properties. 00 11: Success,
  // No subscription existed.
  Unsuback expected;
  expected.packet_id = 7;
  expected.reason_codes = {0x00, 0x11};
  EXPECT_TRUE(DecodesTo(Hex("B0 05 00 07 00 00 11"), ServerToClient(), kV5, expected));
}

TEST(DecodeResponses, RejectsUndefinedV5UnsubackReasonCode) {
  // B0 04: UNSUBACK, 4 bytes. 00 07: packet id 7. 00: no properties. 01: Granted QoS 1,
  // which UNSUBACK does not define (spec 3.11.3).
  EXPECT_TRUE(Refuses(Hex("B0 04 00 07 00 01"), ServerToClient(), kV5,
                      DecodeError::kInvalidReasonCode, kProtocolError));
}

// ---- DISCONNECT and AUTH (MQTT 5) ----------------------------------------------------

TEST(DecodeResponses, AcceptsV5DisconnectWithoutBody) {
  // E0 00: DISCONNECT; Normal disconnection is implied (spec 3.14.2.1).
  EXPECT_TRUE(DecodesTo(Hex("E0 00"), ClientToServer(), kV5, Disconnect{}));
}

TEST(DecodeResponses, AcceptsV5DisconnectWithWill) {
  // E0 02: DISCONNECT, 2 bytes. 04: Disconnect with Will Message. 00: no properties.
  Disconnect expected;
  expected.reason_code = 0x04;
  EXPECT_TRUE(DecodesTo(Hex("E0 02 04 00"), ClientToServer(), kV5, expected));
}

TEST(DecodeResponses, RejectsUndefinedDisconnectReasonCode) {
  // E0 02: DISCONNECT, 2 bytes. 01: not a DISCONNECT reason code (spec 3.14.2.1).
  // 00: no properties.
  EXPECT_TRUE(Refuses(Hex("E0 02 01 00"), ClientToServer(), kV5, DecodeError::kInvalidReasonCode,
                      kProtocolError));
}

TEST(DecodeResponses, RejectsUndefinedAuthReasonCode) {
  // F0 02: AUTH, 2 bytes. 01: not an AUTH reason code (only 00, 18, 19; spec 3.15.2.1).
  // 00: no properties.
  EXPECT_TRUE(Refuses(Hex("F0 02 01 00"), ServerToClient(), kV5, DecodeError::kInvalidReasonCode,
                      kProtocolError));
}

}  // namespace
}  // namespace moat::mqtt::test
