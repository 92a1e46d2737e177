// A streaming, sans-IO MQTT decoder for one direction of one connection.
//
//   socket bytes ──► PrepareWrite()/CommitWrite() or Feed()
//                          │
//                     Next() ──► NeedMore | Frame{type, raw bytes, Packet} | DecodeError
//
// Bytes can arrive in chunks of any size. A Frame's `raw` span is the packet exactly as
// it arrived (so an unchanged packet is forwarded without re-encoding), and the views
// inside its Packet point into the same buffer: nothing is copied, the payload
// included. Next() never moves the buffer, so the frames of one batch stay valid
// together (a proxy can forward them with one write) until the next Feed(),
// PrepareWrite() or ReleaseIdleMemory().
//
// The decoder is strict: after the first error it returns that error forever, since a
// stream that was once misparsed cannot be trusted to be re-synchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <variant>

#include "proxy/mqtt/decode_error.h"
#include "proxy/mqtt/packet.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt {

struct NeedMore {
  bool operator==(const NeedMore&) const = default;
};

struct Frame {
  PacketType type;
  std::span<const uint8_t> raw;  // fixed header, variable header and payload
  Packet packet;
};

using DecodeResult = std::variant<NeedMore, Frame, DecodeError>;

struct DecoderOptions {
  Direction direction = Direction::kClientToServer;
  // Largest whole packet (fixed header included) accepted; larger ones are refused from
  // the fixed header alone, before their body is buffered (MQTT 5 Maximum Packet Size).
  uint32_t max_packet_size = kMaxPacketSize;
};

class Decoder {
 public:
  explicit Decoder(DecoderOptions options);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  // The buffer moves with it, so the frames already returned stay valid.
  Decoder(Decoder&&) = default;

  // A client-to-server decoder learns the version from CONNECT. A server-to-client
  // decoder is told it by the session, which saw the client's CONNECT.
  void set_version(ProtocolVersion version) { version_ = version; }
  ProtocolVersion version() const { return version_; }
  // A client's CONNECT is held to a smaller limit than what follows once it logged in.
  void set_max_packet_size(uint32_t size) { options_.max_packet_size = size; }

  // Copies `bytes` into the buffer.
  void Feed(std::span<const uint8_t> bytes);
  // Zero-copy feeding: read from the socket straight into the returned span (of at
  // least `min_size` bytes), then CommitWrite() what was read.
  std::span<uint8_t> PrepareWrite(size_t min_size);
  void CommitWrite(size_t size);

  DecodeResult Next();

  // Bytes received but not yet returned as a frame.
  size_t buffered() const { return end_ - begin_ - pending_consume_; }
  std::span<const uint8_t> unread() const {
    return {buffer_.get() + begin_ + pending_consume_, buffered()};
  }
  // Memory held by the buffer; ReleaseIdleMemory() frees it when nothing is buffered,
  // so an idle connection costs no buffer. It grows by doubling, never past
  // max_packet_size plus the room last asked for; one grown past 256 KiB for a large packet
  // shrinks back to about twice what it holds at the next Feed() or PrepareWrite().
  size_t capacity() const { return capacity_; }
  void ReleaseIdleMemory();

 private:
  // Returns blocks of the common size to the thread's BlockCache instead of the heap.
  struct BufferDeleter {
    size_t capacity;  // no initializer: unique_ptr value-initializes it to 0
    void operator()(uint8_t* buffer) const;
  };
  using Buffer = std::unique_ptr<uint8_t[], BufferDeleter>;
  static Buffer Allocate(size_t capacity);

  DecodeResult Fail(DecodeError error);
  // Drops the frame returned last, then makes room for `size` more bytes after end_.
  void MakeRoom(size_t size);

  DecoderOptions options_;
  ProtocolVersion version_ = ProtocolVersion::kUnknown;
  DecodeError error_ = DecodeError::kNone;
  Buffer buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;            // first byte not yet returned in a frame
  size_t end_ = 0;              // one past the last received byte
  size_t pending_consume_ = 0;  // size of the frame last returned, dropped on next call
};

// The protocol version a CONNECT's first bytes name (level 3, 4 or 5; a bridge's 3 or 4), read
// without decoding the packet: a CONNECT refused from its fixed header alone (too large)
// can still be answered in the client's own version. nullopt when `bytes` do not hold
// that far or are no CONNECT.
std::optional<ProtocolVersion> PeekConnectVersion(std::span<const uint8_t> bytes);

// Decodes one whole packet (fixed header included) in one go, for callers that already
// have it framed: tests, fuzzers and the round-trip check.
DecodeResult DecodeOne(std::span<const uint8_t> bytes, Direction direction,
                       ProtocolVersion version);

}  // namespace moat::mqtt
