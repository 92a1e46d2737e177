// Framing, sequencing and direction rules of the Decoder: everything decided from the
// fixed header or from where a packet sits in the stream.
#include "proxy/mqtt/decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <variant>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

// ---- Remaining Length (spec 1.5.5, 2.1.4) ------------------------------------------

TEST(Decoder, RejectsFiveByteRemainingLength) {
  // 30: PUBLISH QoS 0. FF FF FF FF: four length bytes that each say "another follows",
  // then 01, a fifth. A Variable Byte Integer has at most four bytes.
  EXPECT_TRUE(Refuses(Hex("30 FF FF FF FF 01"), ClientToServer(), kV311,
                      DecodeError::kRemainingLengthTooLong, kMalformed));
  EXPECT_TRUE(Refuses(Hex("30 FF FF FF FF 01"), ClientToServer(), kV5,
                      DecodeError::kRemainingLengthTooLong, kMalformed));
}

TEST(Decoder, RejectsPaddedRemainingLengthInV5) {
  // C0: PINGREQ. 80 00: Remaining Length 0 padded to two bytes. MQTT 5 requires the
  // minimum number of bytes [MQTT-1.5.5-1].
  EXPECT_TRUE(
      Refuses(Hex("C0 80 00"), ClientToServer(), kV5, DecodeError::kNonMinimalVarInt, kMalformed));
}

TEST(Decoder, AcceptsPaddedRemainingLengthInV311) {
  // The same bytes: 3.1.1 has no minimality rule, so the frame is the 3 bytes as sent.
  EXPECT_TRUE(DecodesTo(Hex("C0 80 00"), ClientToServer(), kV311, Pingreq{}));
}

TEST(Decoder, RejectsPaddedRemainingLengthOfV5Connect) {
  // 10 8E 00: CONNECT, Remaining Length 14 padded to two bytes. The rest is a minimal
  // MQTT 5 CONNECT: 00 04 "MQTT" 05, 02 clean start, 00 3C keep alive, 00 no
  // properties, 00 01 63 client id "c". The version is only known after the header, but
  // the rule still applies [MQTT-1.5.5-1].
  EXPECT_TRUE(Refuses(Hex("10 8E 00 00 04 4D 51 54 54 05 02 00 3C 00 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kNonMinimalVarInt, kMalformed));
}

TEST(Decoder, AcceptsPaddedRemainingLengthOfV311Connect) {
  // 10 8D 00: CONNECT, Remaining Length 13 padded; a minimal 3.1.1 CONNECT follows.
  Connect expected;
  expected.version = kV311;
  expected.keep_alive = 60;
  expected.client_id = "c";
  EXPECT_TRUE(DecodesTo(Hex("10 8D 00 00 04 4D 51 54 54 04 02 00 3C 00 01 63"), ClientToServer(),
                        kNoVersion, expected));
}

TEST(Decoder, RejectsPaddedPropertyLengthInV5) {
  // 40 05: PUBACK, 5 bytes. 00 01: packet id 1. 00: Success. 80 00: Property Length 0
  // padded to two bytes, also a Variable Byte Integer [MQTT-1.5.5-1].
  EXPECT_TRUE(Refuses(Hex("40 05 00 01 00 80 00"), ClientToServer(), kV5,
                      DecodeError::kNonMinimalVarInt, kMalformed));
}

// ---- Fixed header flags [MQTT-2.1.3-1] ----------------------------------------------

TEST(Decoder, RejectsPubrelWithFlags0000) {
  // 60: PUBREL with flags 0000; they must be 0010 [MQTT-3.6.1-1]. 02: length. 00 01: id.
  EXPECT_TRUE(Refuses(Hex("60 02 00 01"), ClientToServer(), kV311,
                      DecodeError::kInvalidFixedHeaderFlags, kMalformed));
}

TEST(Decoder, RejectsSubscribeWithFlags0000) {
  // 80: SUBSCRIBE with flags 0000; they must be 0010 [MQTT-3.8.1-1]. 06: length.
  // 00 01: packet id 1. 00 01 61: filter "a". 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("80 06 00 01 00 01 61 00"), ClientToServer(), kV311,
                      DecodeError::kInvalidFixedHeaderFlags, kMalformed));
}

TEST(Decoder, RejectsUnsubscribeWithFlags0000) {
  // A0: UNSUBSCRIBE with flags 0000; they must be 0010 [MQTT-3.10.1-1]. 05: length.
  // 00 01: packet id 1. 00 01 61: filter "a".
  EXPECT_TRUE(Refuses(Hex("A0 05 00 01 00 01 61"), ClientToServer(), kV311,
                      DecodeError::kInvalidFixedHeaderFlags, kMalformed));
}

TEST(Decoder, RejectsSubscribeWithFlags0011) {
  // 83: SUBSCRIBE with flags 0011; only 0010 is allowed.
  EXPECT_TRUE(Refuses(Hex("83 06 00 01 00 01 61 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidFixedHeaderFlags, kMalformed));
}

TEST(Decoder, RejectsPingreqWithFlagBitSet) {
  // C1: PINGREQ with flags 0001; they must be 0000. 00: length.
  EXPECT_TRUE(Refuses(Hex("C1 00"), ClientToServer(), kV311, DecodeError::kInvalidFixedHeaderFlags,
                      kMalformed));
}

TEST(Decoder, RejectsConnectWithFlagBitSet) {
  // 11: CONNECT with flags 0001; they must be 0000. The rest is a valid 3.1.1 CONNECT:
  // 0D: length 13. 00 04 "MQTT". 04: level. 02: clean session. 00 3C: keep alive 60.
  // 00 01 63: client id "c".
  EXPECT_TRUE(Refuses(Hex("11 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kInvalidFixedHeaderFlags, kMalformed));
}

TEST(Decoder, RejectsPubackWithFlagBitSet) {
  // 42: PUBACK with flags 0010; they must be 0000. 02: length. 00 01: packet id 1.
  EXPECT_TRUE(Refuses(Hex("42 02 00 01"), ServerToClient(), kV311,
                      DecodeError::kInvalidFixedHeaderFlags, kMalformed));
}

// ---- Packet types --------------------------------------------------------------------

TEST(Decoder, RejectsPacketTypeZero) {
  // 00: type 0 is reserved in every version. 00: length.
  EXPECT_TRUE(
      Refuses(Hex("00 00"), ClientToServer(), kV311, DecodeError::kReservedPacketType, kMalformed));
  EXPECT_TRUE(
      Refuses(Hex("00 00"), ServerToClient(), kV5, DecodeError::kReservedPacketType, kMalformed));
}

TEST(Decoder, RejectsPacketType15BeforeV5) {
  // F0: type 15 (AUTH in MQTT 5) is reserved in 3.1 and 3.1.1. 00: length.
  for (ProtocolVersion version : {kV31, kV311}) {
    SCOPED_TRACE(Name(version));
    EXPECT_TRUE(Refuses(Hex("F0 00"), ClientToServer(), version, DecodeError::kReservedPacketType,
                        kMalformed));
    EXPECT_TRUE(Refuses(Hex("F0 00"), ServerToClient(), version, DecodeError::kReservedPacketType,
                        kMalformed));
  }
}

TEST(Decoder, RejectsAuthInV311) {
  // F0 02: AUTH, 2 bytes. 18: Continue authentication. 00: no properties. A well-formed
  // MQTT 5 AUTH, but 3.1.1 does not have it.
  EXPECT_TRUE(Refuses(Hex("F0 02 18 00"), ClientToServer(), kV311, DecodeError::kReservedPacketType,
                      kMalformed));
  EXPECT_TRUE(Refuses(Hex("F0 02 18 00"), ServerToClient(), kV311, DecodeError::kReservedPacketType,
                      kMalformed));
}

// ---- Exact lengths -------------------------------------------------------------------

TEST(Decoder, RejectsPingreqWithBody) {
  // C0 01: PINGREQ with a 1-byte body; PINGREQ has none. 00: the extra byte.
  EXPECT_TRUE(
      Refuses(Hex("C0 01 00"), ClientToServer(), kV311, DecodeError::kTrailingBytes, kMalformed));
}

TEST(Decoder, RejectsPingrespWithBody) {
  // D0 01: PINGRESP with a 1-byte body. 00: the extra byte.
  EXPECT_TRUE(
      Refuses(Hex("D0 01 00"), ServerToClient(), kV5, DecodeError::kTrailingBytes, kMalformed));
}

TEST(Decoder, RejectsThreeBytePubackInV311) {
  // 40 03: PUBACK, 3 bytes. 00 01: packet id 1. 00: a reason code, which 3.1.1 lacks.
  EXPECT_TRUE(Refuses(Hex("40 03 00 01 00"), ClientToServer(), kV311, DecodeError::kTrailingBytes,
                      kMalformed));
}

TEST(Decoder, RejectsDisconnectWithBodyInV311) {
  // E0 01: DISCONNECT, 1 byte. 00: a reason code, which 3.1.1 lacks.
  EXPECT_TRUE(
      Refuses(Hex("E0 01 00"), ClientToServer(), kV311, DecodeError::kTrailingBytes, kMalformed));
}

TEST(Decoder, RejectsTruncatedPubrel) {
  // 62 01: PUBREL, 1 byte. 00: half a packet identifier.
  EXPECT_TRUE(
      Refuses(Hex("62 01 00"), ClientToServer(), kV311, DecodeError::kTruncated, kMalformed));
}

// ---- Maximum packet size --------------------------------------------------------------

TEST(Decoder, RefusesOversizedPacketFromFixedHeaderAlone) {
  // 30: PUBLISH. 80 01: Remaining Length 128, so 131 bytes in all, over a limit of 100.
  // Only the three header bytes are fed: the error must come before any body byte.
  for (const size_t chunk_size : {kWhole, size_t{1}}) {
    SCOPED_TRACE(chunk_size == kWhole ? "whole" : "one byte at a time");
    const DecodeOutcome outcome =
        DecodeAll(Hex("30 80 01"), ClientToServer(100), kV311, chunk_size);
    EXPECT_EQ(Name(outcome.error), Name(DecodeError::kPacketTooLarge));
    EXPECT_TRUE(outcome.frames.empty());
    EXPECT_TRUE(outcome.error_is_sticky);
  }
  EXPECT_EQ(ReasonCodeFor(DecodeError::kPacketTooLarge), ReasonCode::kPacketTooLarge);
}

TEST(Decoder, RefusesOversizedPacketBeforeBufferingItsBody) {
  // 30 FF FF FF 7F: PUBLISH announcing 268,435,455 body bytes against a 1 MiB limit.
  Decoder decoder(ClientToServer(1 << 20));
  decoder.set_version(kV311);
  const ByteVector header = Hex("30 FF FF FF 7F");
  for (size_t i = 0; i + 1 < header.size(); ++i) {
    decoder.Feed(std::span(header).subspan(i, 1));
    ASSERT_TRUE(std::holds_alternative<NeedMore>(decoder.Next())) << "after byte " << i;
  }
  decoder.Feed(std::span(header).subspan(header.size() - 1));
  const DecodeResult result = decoder.Next();
  ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
  EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kPacketTooLarge));
  EXPECT_LE(decoder.capacity(), size_t{64 * 1024}) << "the body must not be reserved";
}

TEST(Decoder, AcceptsPacketOfExactlyMaxPacketSize) {
  // 30 62: PUBLISH, Remaining Length 98, so 100 bytes in all. 00 01 61: topic "a".
  // Then 95 payload bytes.
  const ByteVector at_limit = Cat({Hex("30 62 00 01 61"), ByteVector(95, 'x')});
  ASSERT_EQ(at_limit.size(), 100u);
  const DecodeOutcome outcome = DecodeBothWays(at_limit, ClientToServer(100), kV311);
  EXPECT_EQ(Name(outcome.error), Name(DecodeError::kNone));
  EXPECT_EQ(outcome.frames.size(), 1u);

  // 30 63: Remaining Length 99, 101 bytes in all: one over.
  const ByteVector over = Cat({Hex("30 63 00 01 61"), ByteVector(96, 'x')});
  EXPECT_TRUE(Refuses(over, ClientToServer(100), kV311, DecodeError::kPacketTooLarge,
                      ReasonCode::kPacketTooLarge));
}

// ---- Sequencing ---------------------------------------------------------------------

TEST(Decoder, RejectsPingreqBeforeConnect) {
  // C0 00: PINGREQ as the first packet from a client [MQTT-3.1.0-1].
  EXPECT_TRUE(Refuses(Hex("C0 00"), ClientToServer(), kNoVersion, DecodeError::kPacketBeforeConnect,
                      kProtocolError));
}

TEST(Decoder, RejectsPublishBeforeConnect) {
  // 30 05: PUBLISH QoS 0, 5 bytes. 00 03 61 2F 62: topic "a/b".
  EXPECT_TRUE(Refuses(Hex("30 05 00 03 61 2F 62"), ClientToServer(), kNoVersion,
                      DecodeError::kPacketBeforeConnect, kProtocolError));
}

TEST(Decoder, RejectsSecondConnect) {
  // Two copies of a minimal 3.1.1 CONNECT [MQTT-3.1.0-2]: the first is a frame.
  const ByteVector bytes = Cat({MinimalConnect(kV311), MinimalConnect(kV311)});
  EXPECT_TRUE(
      Refuses(bytes, ClientToServer(), kNoVersion, DecodeError::kSecondConnect, kProtocolError));
  const DecodeOutcome outcome = DecodeBothWays(bytes, ClientToServer(), kNoVersion);
  ASSERT_EQ(outcome.frames.size(), 1u);
  EXPECT_EQ(outcome.frames[0].type, PacketType::kConnect);
}

TEST(Decoder, LearnsVersionFromConnect) {
  for (ProtocolVersion version : {kV31, kV311, kV5}) {
    SCOPED_TRACE(Name(version));
    // A CONNECT, then a PINGREQ (C0 00) that is only legal once CONNECT was seen.
    const ByteVector bytes = Cat({MinimalConnect(version), Hex("C0 00")});
    const DecodeOutcome outcome = DecodeBothWays(bytes, ClientToServer(), kNoVersion);
    EXPECT_EQ(Name(outcome.error), Name(DecodeError::kNone));
    ASSERT_EQ(outcome.frames.size(), 2u);
    EXPECT_EQ(outcome.frames[1].type, PacketType::kPingreq);
    EXPECT_EQ(outcome.version, version);
  }
}

TEST(Decoder, UsesLearnedVersionForLaterPackets) {
  // F0 0A: AUTH, 10 bytes. 18: Continue authentication. 08: 8 bytes of properties.
  // 15 00 05 "SCRAM": Authentication Method. After a 3.1.1 CONNECT type 15 is reserved;
  // after an MQTT 5 CONNECT it is an AUTH.
  const ByteVector auth = Hex("F0 0A 18 08 15 00 05 53 43 52 41 4D");
  EXPECT_TRUE(Refuses(Cat({MinimalConnect(kV311), auth}), ClientToServer(), kNoVersion,
                      DecodeError::kReservedPacketType, kMalformed));
  const DecodeOutcome outcome =
      DecodeBothWays(Cat({MinimalConnect(kV5), auth}), ClientToServer(), kNoVersion);
  EXPECT_EQ(Name(outcome.error), Name(DecodeError::kNone));
  ASSERT_EQ(outcome.frames.size(), 2u);
  Auth expected;
  expected.reason_code = 0x18;
  expected.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM");
  EXPECT_EQ(outcome.frames[1].packet, Packet(expected));
}

// ---- Direction ----------------------------------------------------------------------

TEST(Decoder, RejectsConnackFromClient) {
  // 20 02: CONNACK, 2 bytes. 00: no session. 00: accepted.
  EXPECT_TRUE(Refuses(Hex("20 02 00 00"), ClientToServer(), kV311, DecodeError::kWrongDirection,
                      kProtocolError));
}

TEST(Decoder, RejectsSubackFromClient) {
  // 90 03: SUBACK, 3 bytes. 00 01: packet id 1. 00: granted QoS 0.
  EXPECT_TRUE(Refuses(Hex("90 03 00 01 00"), ClientToServer(), kV311, DecodeError::kWrongDirection,
                      kProtocolError));
}

TEST(Decoder, RejectsUnsubackFromClient) {
  // B0 02: UNSUBACK, 2 bytes. 00 01: packet id 1.
  EXPECT_TRUE(Refuses(Hex("B0 02 00 01"), ClientToServer(), kV311, DecodeError::kWrongDirection,
                      kProtocolError));
}

TEST(Decoder, RejectsPingrespFromClient) {
  // D0 00: PINGRESP.
  EXPECT_TRUE(
      Refuses(Hex("D0 00"), ClientToServer(), kV5, DecodeError::kWrongDirection, kProtocolError));
}

TEST(Decoder, RejectsConnectFromServer) {
  // A minimal 3.1.1 CONNECT (10 0D 00 04 "MQTT" 04 02 00 3C 00 01 "c") from a server.
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 63"), ServerToClient(), kV311,
                      DecodeError::kWrongDirection, kProtocolError));
}

TEST(Decoder, RejectsSubscribeFromServer) {
  // 82 06: SUBSCRIBE, 6 bytes. 00 01: packet id 1. 00 01 61: filter "a". 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 06 00 01 00 01 61 00"), ServerToClient(), kV311,
                      DecodeError::kWrongDirection, kProtocolError));
}

TEST(Decoder, RejectsUnsubscribeFromServer) {
  // A2 05: UNSUBSCRIBE, 5 bytes. 00 01: packet id 1. 00 01 61: filter "a".
  EXPECT_TRUE(Refuses(Hex("A2 05 00 01 00 01 61"), ServerToClient(), kV311,
                      DecodeError::kWrongDirection, kProtocolError));
}

TEST(Decoder, RejectsPingreqFromServer) {
  // C0 00: PINGREQ.
  EXPECT_TRUE(
      Refuses(Hex("C0 00"), ServerToClient(), kV311, DecodeError::kWrongDirection, kProtocolError));
}

TEST(Decoder, RejectsDisconnectFromServerBeforeV5) {
  // E0 00: DISCONNECT; before MQTT 5 only the client sends it.
  for (ProtocolVersion version : {kV31, kV311}) {
    SCOPED_TRACE(Name(version));
    EXPECT_TRUE(Refuses(Hex("E0 00"), ServerToClient(), version, DecodeError::kWrongDirection,
                        kProtocolError));
  }
}

TEST(Decoder, AcceptsDisconnectFromServerInV5) {
  // E0 01: DISCONNECT, 1 byte. 8B: Server shutting down; no Property Length, as allowed
  // when the Remaining Length is below 2.
  Disconnect expected;
  expected.reason_code = 0x8B;
  EXPECT_TRUE(DecodesTo(Hex("E0 01 8B"), ServerToClient(), kV5, expected));
}

// ---- Errors are final -------------------------------------------------------------

TEST(Decoder, KeepsReturningTheSameErrorAfterFailure) {
  // 36 05: PUBLISH with QoS 3. 00 01 61: topic "a". 00 01: packet id 1.
  const ByteVector bad = Hex("36 05 00 01 61 00 01");
  for (const size_t chunk_size : {bad.size(), size_t{1}}) {
    Decoder decoder(ClientToServer());
    decoder.set_version(kV311);
    DecodeResult result = NeedMore{};
    for (size_t i = 0; i < bad.size(); i += chunk_size) {
      decoder.Feed(std::span(bad).subspan(i, chunk_size));
      result = decoder.Next();
    }
    ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
    EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kInvalidQos));
    for (int i = 0; i < 3; ++i) {
      result = decoder.Next();
      ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
      EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kInvalidQos));
    }
    // A valid PINGREQ afterwards does not re-synchronise the stream.
    decoder.Feed(Hex("C0 00"));
    result = decoder.Next();
    ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
    EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kInvalidQos));
  }
}

// ---- DecodeOne ----------------------------------------------------------------------

TEST(DecodeOne, DecodesAFramedPacket) {
  // 30 06: PUBLISH QoS 0, 6 bytes. 00 01 61: topic "a". 68 69 21: payload "hi!".
  const ByteVector bytes = Hex("30 06 00 01 61 68 69 21");
  const DecodeResult result = DecodeOne(bytes, Direction::kServerToClient, kV311);
  ASSERT_TRUE(std::holds_alternative<Frame>(result));
  const Frame& frame = std::get<Frame>(result);
  EXPECT_EQ(frame.type, PacketType::kPublish);
  EXPECT_EQ(frame.raw.data(), bytes.data());
  EXPECT_EQ(frame.raw.size(), bytes.size());
  Publish expected;
  expected.topic = "a";
  expected.payload = "hi!";
  EXPECT_EQ(frame.packet, Packet(expected));
}

TEST(DecodeOne, ReturnsTheDecodeError) {
  // 30 05: PUBLISH QoS 0, 5 bytes. 00 03 61 2F 23: topic "a/#", a wildcard.
  const DecodeResult result =
      DecodeOne(Hex("30 05 00 03 61 2F 23"), Direction::kServerToClient, kV311);
  ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
  EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kInvalidTopicName));
}

TEST(DecodeOne, RejectsBytesAfterThePacket) {
  // C0 00: PINGREQ, then C0 00 again: DecodeOne wants exactly one packet.
  const DecodeResult result = DecodeOne(Hex("C0 00 C0 00"), Direction::kClientToServer, kV311);
  ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
  EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kTrailingBytes));
}

TEST(DecodeOne, RejectsAnIncompletePacket) {
  // 30 05: PUBLISH, 5 bytes, of which only 3 (00 03 61) are there.
  const DecodeResult result = DecodeOne(Hex("30 05 00 03 61"), Direction::kClientToServer, kV311);
  ASSERT_TRUE(std::holds_alternative<DecodeError>(result));
  EXPECT_EQ(Name(std::get<DecodeError>(result)), Name(DecodeError::kTruncated));
}

TEST(DecodeOne, DecodesConnectWithoutAVersion) {
  const ByteVector bytes = MinimalConnect(kV5);
  const DecodeResult result = DecodeOne(bytes, Direction::kClientToServer, kNoVersion);
  ASSERT_TRUE(std::holds_alternative<Frame>(result));
  const auto* connect = std::get_if<Connect>(&std::get<Frame>(result).packet);
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->version, kV5);
}

}  // namespace
}  // namespace moat::mqtt::test
