// What every MQTT fuzz input means, and the streaming walk both codec harnesses share.
//
//   input[0]   selector byte, configures the Decoder:
//                bits 0-1  protocol version: 0 unknown (learnt from CONNECT), 1 = 3.1,
//                          2 = 3.1.1, 3 = 5
//                bit 2     direction: 0 client-to-server, 1 server-to-client
//                bit 3     feeding: 0 Feed(), 1 PrepareWrite()/CommitWrite()
//                bits 4-7  chunk size, an index into kChunkSizes (0: all at once)
//   input[1..] the bytes the Decoder receives
//
// fuzz/make_seed_corpus.py writes the same selector byte; keep the two in step.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <variant>

#include "fuzz/check.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/types.h"

namespace moat::fuzz {

// Sizes a socket read plausibly returns, from the worst case (one byte, which splits
// every Variable Byte Integer) to more than a whole small packet.
inline constexpr std::array<size_t, 16> kChunkSizes = {0,  1,  2,  3,  4,   5,   7,    8,
                                                       13, 16, 31, 64, 100, 256, 1000, 4096};

struct StreamConfig {
  mqtt::Direction direction;
  mqtt::ProtocolVersion version;  // what the Decoder is told before the first byte
  bool zero_copy;
  size_t chunk_size;  // 0: the whole stream in one piece
};

inline StreamConfig ParseSelector(uint8_t selector) {
  constexpr std::array<mqtt::ProtocolVersion, 4> kVersions = {
      mqtt::ProtocolVersion::kUnknown, mqtt::ProtocolVersion::kV31, mqtt::ProtocolVersion::kV311,
      mqtt::ProtocolVersion::kV5};
  StreamConfig config;
  config.direction =
      (selector & 0x04) != 0 ? mqtt::Direction::kServerToClient : mqtt::Direction::kClientToServer;
  config.version = kVersions[selector & 0x03];
  // The server speaks only after CONNECT, so a session always tells the server-side
  // decoder the version; "unknown" there is no real state and selects MQTT 5 instead.
  if (config.direction == mqtt::Direction::kServerToClient &&
      config.version == mqtt::ProtocolVersion::kUnknown) {
    config.version = mqtt::ProtocolVersion::kV5;
  }
  config.zero_copy = (selector & 0x08) != 0;
  config.chunk_size = kChunkSizes[selector >> 4];
  return config;
}

// The Remaining Length a fixed header declares, and how many bytes the header takes.
// Only called on a frame the decoder accepted, so the header is known to be complete.
inline size_t DeclaredPacketSize(std::span<const uint8_t> raw) {
  size_t remaining = 0;
  size_t i = 1;
  for (int shift = 0; i < raw.size() && i <= 4; ++i, shift += 7) {
    remaining |= static_cast<size_t>(raw[i] & 0x7F) << shift;
    if ((raw[i] & 0x80) == 0) return i + 1 + remaining;
  }
  Check(false, "accepted frame has an unterminated Remaining Length");
  return 0;
}

// Feeds input[1..] to a Decoder configured by input[0] in chunks and drains Next()
// after each chunk until NeedMore or an error. For every Frame it checks what holds
// regardless of content (raw is exactly the next bytes of the stream, as long as the
// header says, tagged with the right type) and then calls
// on_frame(frame, config, version_before, decoder), where version_before is the
// version the decoder had before this frame (kUnknown before CONNECT).
template <typename OnFrame>
void DecodeStream(const uint8_t* data, size_t size, OnFrame&& on_frame) {
  if (size == 0) return;
  const StreamConfig config = ParseSelector(data[0]);
  const std::span<const uint8_t> stream(data + 1, size - 1);

  mqtt::Decoder decoder({.direction = config.direction});
  decoder.set_version(config.version);

  size_t fed = 0;     // bytes handed to the decoder
  size_t framed = 0;  // bytes returned inside frames
  while (fed < stream.size()) {
    const size_t want = config.chunk_size == 0 ? stream.size() - fed
                                               : std::min(config.chunk_size, stream.size() - fed);
    if (config.zero_copy) {
      // A socket read returns what has arrived (the chunk), at most the span it is given,
      // which may be larger than min_size.
      std::span<uint8_t> space = decoder.PrepareWrite(want);
      Check(space.size() >= want, "PrepareWrite returned less than min_size");
      const size_t n = std::min(space.size(), want);
      std::memcpy(space.data(), stream.data() + fed, n);
      decoder.CommitWrite(n);
      fed += n;
    } else {
      decoder.Feed(stream.subspan(fed, want));
      fed += want;
    }

    for (;;) {
      const mqtt::ProtocolVersion version_before = decoder.version();
      mqtt::DecodeResult result = decoder.Next();
      if (std::holds_alternative<mqtt::DecodeError>(result)) {
        Check(std::get<mqtt::DecodeError>(result) != mqtt::DecodeError::kNone,
              "Next() returned DecodeError::kNone");
        // Strict decoder: once broken, broken forever.
        Check(std::holds_alternative<mqtt::DecodeError>(decoder.Next()),
              "decoder recovered after an error");
        return;
      }
      if (std::holds_alternative<mqtt::NeedMore>(result)) {
        Check(decoder.buffered() == fed - framed, "buffered() disagrees with bytes fed");
        if (decoder.buffered() == 0) decoder.ReleaseIdleMemory();
        break;
      }
      const mqtt::Frame& frame = std::get<mqtt::Frame>(result);
      Check(!frame.raw.empty(), "empty frame");
      Check(frame.raw.size() == DeclaredPacketSize(frame.raw),
            "frame.raw size differs from its fixed header");
      Check(framed + frame.raw.size() <= fed, "frame extends past the bytes fed");
      Check(std::equal(frame.raw.begin(), frame.raw.end(), stream.begin() + framed),
            "frame.raw is not the next bytes of the stream");
      Check(static_cast<uint8_t>(frame.type) == frame.raw[0] >> 4,
            "frame.type differs from the fixed header");
      Check(mqtt::TypeOf(frame.packet) == frame.type, "frame.type differs from the Packet");
      framed += frame.raw.size();
      on_frame(frame, config, version_before, decoder);
    }
  }
}

}  // namespace moat::fuzz
