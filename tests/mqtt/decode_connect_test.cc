// CONNECT (spec 3.1) and CONNACK (spec 3.2). A client-to-server decoder starts without a
// version and learns it from CONNECT, so CONNECT tests use kNoVersion.
//
// Most CONNECTs below are variations of the minimal 3.1.1 one:
//   10 0D                    CONNECT, Remaining Length 13
//   00 04 4D 51 54 54        protocol name "MQTT"
//   04                       protocol level 4 (3.1.1)
//   02                       connect flags: clean session
//   00 3C                    keep alive 60 s
//   00 01 63                 client id "c"
#include <gtest/gtest.h>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

constexpr ReasonCode kUnsupported = ReasonCode::kUnsupportedProtocolVersion;
// The minimal CONNECTs of a bridge: level 0x84 under "MQTT", 0x83 under "MQIsdp".
constexpr std::string_view kV311Bridge = "10 0D 00 04 4D 51 54 54 84 02 00 3C 00 01 63";
constexpr std::string_view kV31Bridge = "10 0F 00 06 4D 51 49 73 64 70 83 02 00 3C 00 01 63";

Connect MinimalConnectPacket(ProtocolVersion version) {
  Connect connect;
  connect.version = version;
  connect.clean_start = true;
  connect.keep_alive = 60;
  connect.client_id = "c";
  return connect;
}

Connect BridgeConnectPacket(ProtocolVersion version) {
  Connect connect = MinimalConnectPacket(version);
  connect.bridge = true;
  return connect;
}

Connack MakeConnack(bool session_present, uint8_t reason_code) {
  Connack connack;
  connack.session_present = session_present;
  connack.reason_code = reason_code;
  return connack;
}

// ---- Protocol name and level [MQTT-3.1.2-1, -2] --------------------------------------

TEST(DecodeConnect, AcceptsMinimalV311Connect) {
  EXPECT_TRUE(DecodesTo(Hex("10 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 63"), ClientToServer(),
                        kNoVersion, MinimalConnectPacket(kV311)));
}

TEST(DecodeConnect, AcceptsMqisdpLevel3) {
  // 10 0F: CONNECT, 15 bytes. 00 06 4D 51 49 73 64 70: "MQIsdp". 03: level 3 (MQTT 3.1).
  // 02: clean session. 00 3C: keep alive 60. 00 01 63: client id "c".
  EXPECT_TRUE(DecodesTo(Hex("10 0F 00 06 4D 51 49 73 64 70 03 02 00 3C 00 01 63"), ClientToServer(),
                        kNoVersion, MinimalConnectPacket(kV31)));
}

TEST(DecodeConnect, RejectsUnknownProtocolName) {
  // 00 04 4D 51 54 58: "MQTX" instead of "MQTT"; otherwise the minimal CONNECT.
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 58 04 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kInvalidProtocolName, kUnsupported));
}

TEST(DecodeConnect, RejectsMqttLevel6) {
  // "MQTT" with level 06, a version that does not exist.
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 06 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kUnsupportedProtocolVersion, kUnsupported));
}

TEST(DecodeConnect, RejectsMqttLevel3) {
  // "MQTT" with level 03: 3.1 is only spoken under the name "MQIsdp".
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 03 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kUnsupportedProtocolVersion, kUnsupported));
}

TEST(DecodeConnect, RejectsMqisdpLevel4) {
  // 10 0F: CONNECT, 15 bytes. "MQIsdp" with level 04: 3.1.1 is only spoken as "MQTT".
  EXPECT_TRUE(Refuses(Hex("10 0F 00 06 4D 51 49 73 64 70 04 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kUnsupportedProtocolVersion, kUnsupported));
}

// ---- Bridges (mosquitto try_private) --------------------------------------------------
// A bridge sets the level's top bit on 3 (3.1) or 4 (3.1.1), never on 5. moat speaks the
// base version and keeps the bit upstream, or the broker would echo the bridge's own
// messages back and they would loop between the two brokers.

TEST(BridgeConnect, DecodesLevel0x84AsV311Bridge) {
  EXPECT_TRUE(
      DecodesTo(Hex(kV311Bridge), ClientToServer(), kNoVersion, BridgeConnectPacket(kV311)));
}

TEST(BridgeConnect, DecodesLevel0x83AsV31Bridge) {
  EXPECT_TRUE(DecodesTo(Hex(kV31Bridge), ClientToServer(), kNoVersion, BridgeConnectPacket(kV31)));
}

TEST(BridgeConnect, PlainLevelsAreNoBridge) {
  const DecodeOutcome outcome = DecodeBothWays(MinimalConnect(kV311), ClientToServer(), kNoVersion);
  ASSERT_EQ(outcome.frames.size(), 1u) << Describe(outcome);
  EXPECT_FALSE(std::get<Connect>(outcome.frames[0].packet).bridge);
}

TEST(BridgeConnect, TheConnectionSpeaksTheBaseVersion) {
  // After the bridge's CONNECT, a 3.1.1 PUBLISH (30 05: QoS 0, topic "a", payload "hi"):
  // as 5.0, "h" would be a property length running past the end.
  const ByteVector bytes = Cat({Hex(kV311Bridge), Hex("30 05 00 01 61 68 69")});
  const DecodeOutcome outcome = DecodeBothWays(bytes, ClientToServer(), kNoVersion);
  EXPECT_EQ(outcome.error, DecodeError::kNone);
  EXPECT_EQ(outcome.version, kV311);
  ASSERT_EQ(outcome.frames.size(), 2u) << Describe(outcome);
  EXPECT_EQ(std::get<Publish>(outcome.frames[1].packet).payload, "hi");
}

TEST(BridgeConnect, RejectsBridgeBitOnV5) {
  // mosquitto never sets it on 5.0, which has its own way (No Local) to stop echoes.
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 85 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kUnsupportedProtocolVersion, kUnsupported));
}

TEST(BridgeConnect, RejectsBridgeBitOnAnUnknownLevel) {
  for (const std::string_view level : {"80", "86", "FF"}) {
    SCOPED_TRACE(level);
    EXPECT_TRUE(Refuses(Cat({Hex("10 0D 00 04 4D 51 54 54"), Hex(level), Hex("02 00 3C 00 01 63")}),
                        ClientToServer(), kNoVersion, DecodeError::kUnsupportedProtocolVersion,
                        kUnsupported));
  }
}

TEST(BridgeConnect, RejectsBridgeLevelUnderTheOtherName) {
  // "MQTT" with 0x83 and "MQIsdp" with 0x84: the base level must match the name.
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 83 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kUnsupportedProtocolVersion, kUnsupported));
  EXPECT_TRUE(Refuses(Hex("10 0F 00 06 4D 51 49 73 64 70 84 02 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kUnsupportedProtocolVersion, kUnsupported));
}

TEST(BridgeConnect, PeekReadsTheBaseVersion) {
  EXPECT_EQ(PeekConnectVersion(Hex(kV311Bridge)), kV311);
  EXPECT_EQ(PeekConnectVersion(Hex(kV31Bridge)), kV31);
  EXPECT_EQ(PeekConnectVersion(Hex("10 0D 00 04 4D 51 54 54 85")), std::nullopt);
}

TEST(BridgeConnect, EncodesTheBitOnTheLevel) {
  EXPECT_EQ(ToHex(EncodeOrFail(BridgeConnectPacket(kV311), kV311)), ToHex(Hex(kV311Bridge)));
  EXPECT_EQ(ToHex(EncodeOrFail(BridgeConnectPacket(kV31), kV31)), ToHex(Hex(kV31Bridge)));
}

TEST(BridgeConnect, RefusesToEncodeABridgeV5Connect) {
  std::vector<uint8_t> bytes;
  EXPECT_EQ(Encode(BridgeConnectPacket(kV5), kV5, bytes), EncodeError::kInvalidForVersion);
  EXPECT_TRUE(bytes.empty());
}

TEST(BridgeConnect, RoundTripsWithCredentialsAndWill) {
  // The CONNECT moat rewrites when it replaces the bridge's credentials upstream.
  for (const ProtocolVersion version : {kV31, kV311}) {
    SCOPED_TRACE(Name(version));
    Connect connect = BridgeConnectPacket(version);
    connect.clean_start = false;
    connect.will = MakeWill(1, true, "bridges/edge/state", "0");
    connect.username = "moat";
    connect.password = "secret";
    EXPECT_TRUE(RoundTrips(connect, version, Direction::kClientToServer));
  }
}

// ---- Connect flags ------------------------------------------------------------------

TEST(DecodeConnect, RejectsReservedConnectFlag) {
  // Flags 03: clean session plus the reserved bit 0 [MQTT-3.1.2-3].
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 04 03 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kConnectReservedFlag, kMalformed));
}

TEST(DecodeConnect, RejectsWillQosWithoutWillFlag) {
  // Flags 0A: will QoS 1 (bit 3) and clean session, but no will flag [MQTT-3.1.2-13].
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 04 0A 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kInvalidWillFlags, kMalformed));
}

TEST(DecodeConnect, RejectsWillRetainWithoutWillFlag) {
  // Flags 22: will retain (bit 5) and clean session, but no will flag [MQTT-3.1.2-15].
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 04 22 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kInvalidWillFlags, kMalformed));
}

TEST(DecodeConnect, RejectsWillQos3) {
  // 10 13: CONNECT, 19 bytes. Flags 1E: will QoS 3 (bits 4-3), will flag, clean session
  // [MQTT-3.1.2-14]. 00 01 63: client id "c". 00 01 77: will topic "w".
  // 00 01 78: will payload "x".
  EXPECT_TRUE(Refuses(Hex("10 13 00 04 4D 51 54 54 04 1E 00 3C 00 01 63 00 01 77 00 01 78"),
                      ClientToServer(), kNoVersion, DecodeError::kInvalidWillFlags, kMalformed));
}

TEST(DecodeConnect, RejectsPasswordWithoutUsernameInV311) {
  // 10 10: CONNECT, 16 bytes. Flags 42: password and clean session, no username
  // [MQTT-3.1.2-22]. 00 01 63: client id "c". 00 01 70: password "p".
  EXPECT_TRUE(Refuses(Hex("10 10 00 04 4D 51 54 54 04 42 00 3C 00 01 63 00 01 70"),
                      ClientToServer(), kNoVersion, DecodeError::kPasswordWithoutUsername,
                      kMalformed));
}

TEST(DecodeConnect, RejectsPasswordWithoutUsernameInV31) {
  // 10 12: CONNECT, 18 bytes. "MQIsdp" level 3. Flags 42: password, no username.
  // 00 01 63: client id "c". 00 01 70: password "p".
  EXPECT_TRUE(Refuses(Hex("10 12 00 06 4D 51 49 73 64 70 03 42 00 3C 00 01 63 00 01 70"),
                      ClientToServer(), kNoVersion, DecodeError::kPasswordWithoutUsername,
                      kMalformed));
}

TEST(DecodeConnect, AcceptsPasswordWithoutUsernameInV5) {
  // 10 11: CONNECT, 17 bytes. "MQTT" level 5. Flags 42: password, clean start.
  // 00 3C: keep alive. 00: no properties. 00 01 63: client id "c". 00 01 70: password.
  Connect expected = MinimalConnectPacket(kV5);
  expected.password = "p";
  EXPECT_TRUE(DecodesTo(Hex("10 11 00 04 4D 51 54 54 05 42 00 3C 00 00 01 63 00 01 70"),
                        ClientToServer(), kNoVersion, expected));
}

TEST(DecodeConnect, AcceptsBinaryPassword) {
  // 10 16: CONNECT, 22 bytes. Flags C2: username, password, clean session.
  // 00 01 63: client id "c". 00 01 75: username "u". 00 04 00 FF C0 80: password, binary
  // data that would not be valid UTF-8.
  Connect expected = MinimalConnectPacket(kV311);
  expected.username = "u";
  expected.password = std::string_view("\x00\xFF\xC0\x80", 4);
  EXPECT_TRUE(
      DecodesTo(Hex("10 16 00 04 4D 51 54 54 04 C2 00 3C 00 01 63 00 01 75 00 04 00 FF C0 80"),
                ClientToServer(), kNoVersion, expected));
}

TEST(DecodeConnect, RejectsWildcardInWillTopic) {
  // 10 14: CONNECT, 20 bytes. Flags 06: will flag, clean session. 00 01 63: client id.
  // 00 03 61 2F 23: will topic "a/#" [MQTT-3.1.3-11 with 3.3.2-2]. 00 00: empty payload.
  EXPECT_TRUE(Refuses(Hex("10 14 00 04 4D 51 54 54 04 06 00 3C 00 01 63 00 03 61 2F 23 00 00"),
                      ClientToServer(), kNoVersion, DecodeError::kInvalidTopicName, kMalformed));
}

TEST(DecodeConnect, AcceptsWillWithEmptyPayload) {
  // 10 14: CONNECT, 20 bytes. Flags 0E: will QoS 1, will flag, clean session.
  // 00 01 63: client id. 00 03 61 2F 62: will topic "a/b". 00 00: empty will payload.
  Connect expected = MinimalConnectPacket(kV311);
  expected.will = MakeWill(1, false, "a/b", "");
  EXPECT_TRUE(DecodesTo(Hex("10 14 00 04 4D 51 54 54 04 0E 00 3C 00 01 63 00 03 61 2F 62 00 00"),
                        ClientToServer(), kNoVersion, expected));
}

// ---- Payload lengths ----------------------------------------------------------------

TEST(DecodeConnect, AcceptsEmptyClientId) {
  // 10 0C: CONNECT, 12 bytes. Flags 02: clean session. 00 00: empty client id, which a
  // server may accept with a clean session [MQTT-3.1.3-6].
  Connect expected = MinimalConnectPacket(kV311);
  expected.client_id = "";
  EXPECT_TRUE(DecodesTo(Hex("10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00"), ClientToServer(),
                        kNoVersion, expected));
}

TEST(DecodeConnect, RejectsTruncatedClientId) {
  // 10 0C: CONNECT, 12 bytes. 00 01: a one-byte client id, and the packet ends.
  EXPECT_TRUE(Refuses(Hex("10 0C 00 04 4D 51 54 54 04 02 00 3C 00 01"), ClientToServer(),
                      kNoVersion, DecodeError::kTruncated, kMalformed));
}

TEST(DecodeConnect, RejectsMissingWillPayload) {
  // 10 12: CONNECT, 18 bytes. Flags 06: will flag, clean session. 00 01 63: client id.
  // 00 03 61 2F 62: will topic "a/b", then no will payload.
  EXPECT_TRUE(Refuses(Hex("10 12 00 04 4D 51 54 54 04 06 00 3C 00 01 63 00 03 61 2F 62"),
                      ClientToServer(), kNoVersion, DecodeError::kTruncated, kMalformed));
}

TEST(DecodeConnect, RejectsUsernameFlagWithoutUsername) {
  // Flags 82: username and clean session, but the packet ends after the client id.
  EXPECT_TRUE(Refuses(Hex("10 0D 00 04 4D 51 54 54 04 82 00 3C 00 01 63"), ClientToServer(),
                      kNoVersion, DecodeError::kTruncated, kMalformed));
}

TEST(DecodeConnect, RejectsBytesAfterTheLastField) {
  // 10 0E: CONNECT, 14 bytes: the minimal CONNECT plus FF after the client id.
  EXPECT_TRUE(Refuses(Hex("10 0E 00 04 4D 51 54 54 04 02 00 3C 00 01 63 FF"), ClientToServer(),
                      kNoVersion, DecodeError::kTrailingBytes, kMalformed));
}

// ---- CONNACK (server to client) ------------------------------------------------------

TEST(DecodeConnack, AcceptsSessionPresent) {
  // 20 02: CONNACK, 2 bytes. 01: session present. 00: accepted.
  EXPECT_TRUE(DecodesTo(Hex("20 02 01 00"), ServerToClient(), kV311, MakeConnack(true, 0)));
}

TEST(DecodeConnack, AcceptsEveryV311ReturnCode) {
  for (uint8_t code = 1; code <= 5; ++code) {
    // 20 02: CONNACK, 2 bytes. 00: no session. `code`: a refusal (3.1.1 table 3.1).
    EXPECT_TRUE(DecodesTo(Cat({Hex("20 02 00"), {code}}), ServerToClient(), kV311,
                          MakeConnack(false, code)));
    EXPECT_TRUE(DecodesTo(Cat({Hex("20 02 00"), {code}}), ServerToClient(), kV31,
                          MakeConnack(false, code)));
  }
}

TEST(DecodeConnack, RejectsReservedFlagBits) {
  // 20 02: CONNACK, 2 bytes. 02: bit 1 of the acknowledge flags, reserved
  // [MQTT-3.2.2-1 in v5]. 00: accepted.
  EXPECT_TRUE(Refuses(Hex("20 02 02 00"), ServerToClient(), kV311,
                      DecodeError::kInvalidConnackFlags, kMalformed));
}

TEST(DecodeConnack, RejectsSessionPresentWithRefusal) {
  // 20 02: CONNACK, 2 bytes. 01: session present. 05: not authorized
  // [MQTT-3.2.2-4 in 3.1.1].
  EXPECT_TRUE(Refuses(Hex("20 02 01 05"), ServerToClient(), kV311,
                      DecodeError::kInvalidConnackFlags, kMalformed));
  // 20 03: 3 bytes. 01: session present. 87: Not authorized. 00: no properties
  // [MQTT-3.2.2-6].
  EXPECT_TRUE(Refuses(Hex("20 03 01 87 00"), ServerToClient(), kV5,
                      DecodeError::kInvalidConnackFlags, kMalformed));
}

TEST(DecodeConnack, RejectsReturnCode6InV311) {
  // 20 02: CONNACK, 2 bytes. 00: no session. 06: reserved return code (3.1.1 table 3.1).
  EXPECT_TRUE(Refuses(Hex("20 02 00 06"), ServerToClient(), kV311, DecodeError::kInvalidReasonCode,
                      kProtocolError));
}

TEST(DecodeConnack, RejectsUndefinedV5ReasonCode) {
  // 20 03: CONNACK, 3 bytes. 00: no session. 01: not a CONNACK reason code (spec
  // 3.2.2.2). 00: no properties.
  EXPECT_TRUE(Refuses(Hex("20 03 00 01 00"), ServerToClient(), kV5, DecodeError::kInvalidReasonCode,
                      kProtocolError));
}

TEST(DecodeConnack, AcceptsV5Refusal) {
  // 20 03: CONNACK, 3 bytes. 00: no session. 87: Not authorized. 00: no properties.
  EXPECT_TRUE(DecodesTo(Hex("20 03 00 87 00"), ServerToClient(), kV5, MakeConnack(false, 0x87)));
}

TEST(DecodeConnack, RejectsV5ConnackWithoutPropertyLength) {
  // 20 02: CONNACK, 2 bytes. 00 00: a 3.1.1-shaped CONNACK; MQTT 5 requires the
  // Property Length (spec 3.2.2.3).
  EXPECT_TRUE(
      Refuses(Hex("20 02 00 00"), ServerToClient(), kV5, DecodeError::kTruncated, kMalformed));
}

TEST(DecodeConnack, RejectsTruncatedConnack) {
  // 20 01: CONNACK, 1 byte. 00: flags, and no return code.
  EXPECT_TRUE(
      Refuses(Hex("20 01 00"), ServerToClient(), kV311, DecodeError::kTruncated, kMalformed));
}

// A CONNECT refused from its fixed header (too large) is still answered in the client's
// version: the level is read from the first bytes, whatever length they announce.
TEST(PeekConnectVersion, ReadsTheLevelFromTheFirstBytes) {
  EXPECT_EQ(PeekConnectVersion(Hex("10 FF FF FF 07 00 04 4D 51 54 54 05")), kV5);
  EXPECT_EQ(PeekConnectVersion(Hex("10 0D 00 04 4D 51 54 54 04 02")), kV311);
  EXPECT_EQ(PeekConnectVersion(Hex("10 0F 00 06 4D 51 49 73 64 70 03")), kV31);
}

TEST(PeekConnectVersion, SaysNothingItCannotSee) {
  EXPECT_EQ(PeekConnectVersion(Hex("10 FF FF FF 07 00 04 4D 51 54")), std::nullopt);  // short
  EXPECT_EQ(PeekConnectVersion(Hex("30 05 00 01 61 05 00")), std::nullopt);           // a PUBLISH
  EXPECT_EQ(PeekConnectVersion(Hex("10 0D 00 04 4D 51 54 54 06")), std::nullopt);     // level 6
  EXPECT_EQ(PeekConnectVersion(Hex("10 FF FF FF FF 7F")), std::nullopt);              // no varint
  EXPECT_EQ(PeekConnectVersion({}), std::nullopt);
}

}  // namespace
}  // namespace moat::mqtt::test
