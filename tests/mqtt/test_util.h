// Helpers shared by the codec tests: byte builders, a decoder driver that feeds bytes in
// chunks of any size and keeps copies of the frames, and assertions that check a byte
// string is accepted or refused identically whether it arrives whole or one byte at a
// time (house rule: every decoder test also feeds one byte at a time).
//
//   Hex("30 05 ...") ──► DecodeAll(bytes, options, version, chunk_size)
//                              │  Feed(chunk); Next() until NeedMore or an error
//                              ▼
//                        DecodeOutcome{frames (owned copies), error, buffered}
//
//   Refuses(), DecodesTo() and RoundTrips() run DecodeAll twice (whole, 1 byte) and
//   return a ::testing::AssertionResult so failures print the bytes and both outcomes.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/mqtt/decode_error.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/mqtt/packet.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt::test {

using ByteVector = std::vector<uint8_t>;

// Short names for what almost every test spells out.
inline constexpr ProtocolVersion kV31 = ProtocolVersion::kV31;
inline constexpr ProtocolVersion kV311 = ProtocolVersion::kV311;
inline constexpr ProtocolVersion kV5 = ProtocolVersion::kV5;
inline constexpr ProtocolVersion kNoVersion = ProtocolVersion::kUnknown;  // before CONNECT
inline constexpr ReasonCode kMalformed = ReasonCode::kMalformedPacket;
inline constexpr ReasonCode kProtocolError = ReasonCode::kProtocolError;

// ---- Byte builders ----------------------------------------------------------------

// "30 0a 00 03" -> {0x30, 0x0a, 0x00, 0x03}. Whitespace is ignored; anything else that is
// not a pair of hex digits fails the current test.
ByteVector Hex(std::string_view hex);
// The bytes of `text`, no length prefix.
ByteVector Text(std::string_view text);
// An MQTT UTF-8 string or binary field: two-byte big-endian length, then the bytes.
ByteVector Str(std::string_view text);
ByteVector Cat(std::initializer_list<ByteVector> parts);
// A minimal Variable Byte Integer.
ByteVector VarInt(uint32_t value);
// First byte, minimal Remaining Length, then `body`.
ByteVector WithFixedHeader(uint8_t first_byte, const ByteVector& body);

std::string ToHex(std::span<const uint8_t> bytes);
std::string_view AsChars(std::span<const uint8_t> bytes);

// A minimal CONNECT (client id "c", clean session, keep alive 60) for `version`.
ByteVector MinimalConnect(ProtocolVersion version);

// ---- Packet builders (designated initializers would leave `properties` unnamed) -----

Will MakeWill(uint8_t qos, bool retain, std::string_view topic, std::string_view payload);

// PUBACK, PUBREC, PUBREL or PUBCOMP.
template <typename T>
T MakeAck(uint16_t packet_id, uint8_t reason_code = 0) {
  T ack;
  ack.packet_id = packet_id;
  ack.reason_code = reason_code;
  return ack;
}

// CONNACK, DISCONNECT or AUTH.
template <typename T>
T WithReason(uint8_t reason_code) {
  T packet;
  packet.reason_code = reason_code;
  return packet;
}

// ---- Decoder driving ---------------------------------------------------------------

inline constexpr size_t kWhole = std::numeric_limits<size_t>::max();

DecoderOptions ClientToServer(uint32_t max_packet_size = kMaxPacketSize);
DecoderOptions ServerToClient(uint32_t max_packet_size = kMaxPacketSize);

// A frame copied out of the decoder: `raw` is a copy of frame.raw and every view inside
// `packet` points into storage shared by copies of this object.
struct DecodedFrame {
  PacketType type;
  ByteVector raw;
  Packet packet;
  std::shared_ptr<const void> storage;
};

struct DecodeOutcome {
  std::vector<DecodedFrame> frames;
  DecodeError error = DecodeError::kNone;
  // After an error: Next() again, and Next() after feeding a valid PINGREQ, both
  // returned the same error (the decoder does not re-synchronise).
  bool error_is_sticky = true;
  size_t buffered = 0;                                  // decoder.buffered() when decoding stopped
  ProtocolVersion version = ProtocolVersion::kUnknown;  // decoder.version() at the end
};

// Feeds `bytes` in chunks of `chunk_size` (kWhole: one Feed), calling Next() after each
// chunk until NeedMore, and stops at the first error. If `version` is not kUnknown the
// decoder is told it with set_version() first.
DecodeOutcome DecodeAll(std::span<const uint8_t> bytes, DecoderOptions options,
                        ProtocolVersion version, size_t chunk_size);

// Decodes whole and one byte at a time, adds a test failure if the two outcomes differ,
// and returns the whole one.
DecodeOutcome DecodeBothWays(std::span<const uint8_t> bytes, DecoderOptions options,
                             ProtocolVersion version);

// The bytes are refused with `error`, both whole and one byte at a time, the error is
// sticky, and ReasonCodeFor(error) == `reason`.
::testing::AssertionResult Refuses(std::span<const uint8_t> bytes, DecoderOptions options,
                                   ProtocolVersion version, DecodeError error, ReasonCode reason);

// The bytes decode, whole and one byte at a time, to exactly one frame equal to
// `expected`, whose raw span is all of `bytes`, with nothing left buffered.
::testing::AssertionResult DecodesTo(std::span<const uint8_t> bytes, DecoderOptions options,
                                     ProtocolVersion version, const Packet& expected);

// Encode(packet, version) succeeds and the bytes decode back (see DecodesTo) in
// `direction`. A client-to-server CONNECT is decoded by a fresh decoder, which must then
// report the CONNECT's version; any other packet by one told `version`.
::testing::AssertionResult RoundTrips(const Packet& packet, ProtocolVersion version,
                                      Direction direction);

// Encodes, adding a test failure on error.
ByteVector EncodeOrFail(const Packet& packet, ProtocolVersion version);

// ---- Diagnostics -------------------------------------------------------------------

std::string Describe(const Packet& packet);
std::string Describe(const DecodeOutcome& outcome);
std::string_view Name(DecodeError error);
std::string_view Name(EncodeError error);
std::string Name(ProtocolVersion version);

}  // namespace moat::mqtt::test
