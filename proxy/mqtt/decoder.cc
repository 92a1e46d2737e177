#include "proxy/mqtt/decoder.h"

#include <algorithm>
#include <cstring>

#include "proxy/mqtt/block_cache.h"
#include "proxy/mqtt/byte_reader.h"
#include "proxy/mqtt/packet_decoders.h"

namespace moat::mqtt {
namespace {

constexpr size_t kMinimumCapacity = 4096;
// Up to this, a buffer keeps its size between packets: what one 16 KiB read and a
// packet in progress need is never given back and taken again.
constexpr size_t kShrinkAbove = 256 * 1024;

bool IsClientPacket(PacketType type) {
  switch (type) {
    case PacketType::kConnack:
    case PacketType::kSuback:
    case PacketType::kUnsuback:
    case PacketType::kPingresp:
      return false;
    default:
      return true;
  }
}

bool IsServerPacket(PacketType type, ProtocolVersion version) {
  switch (type) {
    case PacketType::kConnect:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
    case PacketType::kPingreq:
      return false;
    case PacketType::kDisconnect:  // a server only sends DISCONNECT from MQTT 5 on
      return version == ProtocolVersion::kV5;
    default:
      return true;
  }
}

// Checks everything the first byte alone can tell, so a hostile stream is refused
// before its length, let alone its body, is waited for.
DecodeError CheckFirstByte(uint8_t first, Direction direction, ProtocolVersion version) {
  const auto type = static_cast<PacketType>(first >> 4);
  const uint8_t flags = first & 0x0F;
  if (type == PacketType::kReserved) return DecodeError::kReservedPacketType;
  if (version == ProtocolVersion::kUnknown) {
    if (type != PacketType::kConnect) return DecodeError::kPacketBeforeConnect;
  } else {
    if (type == PacketType::kAuth && version != ProtocolVersion::kV5) {
      return DecodeError::kReservedPacketType;
    }
    if (type == PacketType::kConnect && direction == Direction::kClientToServer) {
      return DecodeError::kSecondConnect;
    }
  }
  const bool allowed = direction == Direction::kClientToServer ? IsClientPacket(type)
                                                               : IsServerPacket(type, version);
  if (!allowed) return DecodeError::kWrongDirection;
  // Fixed header flags [MQTT-2.1.3-1]: fixed per type except for PUBLISH.
  if (type == PacketType::kPublish) {
    const uint8_t qos = (flags >> 1) & 0x03;
    if (qos == 3) return DecodeError::kInvalidQos;
    if (qos == 0 && (flags & 0x08) != 0) return DecodeError::kDupWithQos0;
    return DecodeError::kNone;
  }
  const bool needs_0010 = type == PacketType::kPubrel || type == PacketType::kSubscribe ||
                          type == PacketType::kUnsubscribe;
  if (flags != (needs_0010 ? 0x02 : 0x00)) return DecodeError::kInvalidFixedHeaderFlags;
  return DecodeError::kNone;
}

template <typename T, typename Fn>
DecodeError DecodeInto(Packet& packet, Fn&& fn) {
  return fn(packet.emplace<T>());
}

DecodeError DecodeBody(PacketType type, ByteReader& reader, const DecodeContext& context,
                       Packet& packet) {
  auto with = [&](auto decode) {
    return [&, decode](auto& out) { return decode(reader, context, out); };
  };
  switch (type) {
    case PacketType::kConnect:
      return DecodeInto<Connect>(packet, [&](Connect& c) { return DecodeConnect(reader, c); });
    case PacketType::kConnack:
      return DecodeInto<Connack>(packet, with(DecodeConnack));
    case PacketType::kPublish:
      return DecodeInto<Publish>(packet, with(DecodePublish));
    case PacketType::kPuback:
      return DecodeInto<Puback>(packet, with(DecodePublishResponse<PacketType::kPuback>));
    case PacketType::kPubrec:
      return DecodeInto<Pubrec>(packet, with(DecodePublishResponse<PacketType::kPubrec>));
    case PacketType::kPubrel:
      return DecodeInto<Pubrel>(packet, with(DecodePublishResponse<PacketType::kPubrel>));
    case PacketType::kPubcomp:
      return DecodeInto<Pubcomp>(packet, with(DecodePublishResponse<PacketType::kPubcomp>));
    case PacketType::kSubscribe:
      return DecodeInto<Subscribe>(packet, with(DecodeSubscribe));
    case PacketType::kSuback:
      return DecodeInto<Suback>(packet, with(DecodeSuback));
    case PacketType::kUnsubscribe:
      return DecodeInto<Unsubscribe>(packet, with(DecodeUnsubscribe));
    case PacketType::kUnsuback:
      return DecodeInto<Unsuback>(packet, with(DecodeUnsuback));
    case PacketType::kPingreq:
      packet.emplace<Pingreq>();
      return DecodeError::kNone;
    case PacketType::kPingresp:
      packet.emplace<Pingresp>();
      return DecodeError::kNone;
    case PacketType::kDisconnect:
      return DecodeInto<Disconnect>(packet, with(DecodeDisconnect));
    case PacketType::kAuth:
      return DecodeInto<Auth>(packet, with(DecodeAuth));
    case PacketType::kReserved:
      break;
  }
  return DecodeError::kReservedPacketType;
}

struct Attempt {
  DecodeResult result;
  size_t packet_size = 0;  // known once the fixed header is complete
};

// Decodes the packet at the start of `bytes`, which belongs to the caller. On CONNECT,
// `version` becomes the connection's protocol version.
Attempt DecodeAt(std::span<const uint8_t> bytes, const DecoderOptions& options,
                 ProtocolVersion& version) {
  if (bytes.empty()) return {NeedMore{}};
  if (auto e = CheckFirstByte(bytes[0], options.direction, version); e != DecodeError::kNone) {
    return {e};
  }
  const VarInt length = ParseVarInt(bytes.subspan(1));
  if (length.status == VarIntStatus::kTooLong) return {DecodeError::kRemainingLengthTooLong};
  if (length.status == VarIntStatus::kIncomplete) return {NeedMore{}};
  const size_t packet_size = size_t{1} + length.size + length.value;
  if (packet_size > options.max_packet_size) return {DecodeError::kPacketTooLarge};
  if (version == ProtocolVersion::kV5 && !length.minimal) return {DecodeError::kNonMinimalVarInt};
  if (bytes.size() < packet_size) return {NeedMore{}, packet_size};

  const auto type = static_cast<PacketType>(bytes[0] >> 4);
  const DecodeContext context{version, options.direction, static_cast<uint8_t>(bytes[0] & 0x0F)};
  ByteReader reader(bytes.subspan(1 + length.size, length.value));
  Frame frame{type, bytes.first(packet_size), Pingreq{}};
  if (auto e = DecodeBody(type, reader, context, frame.packet); e != DecodeError::kNone) {
    return {e};
  }
  if (!reader.empty()) return {DecodeError::kTrailingBytes};
  if (type == PacketType::kConnect) {
    const ProtocolVersion negotiated = std::get<Connect>(frame.packet).version;
    // The CONNECT's own header is read before its version is known [MQTT-1.5.5-1].
    if (negotiated == ProtocolVersion::kV5 && !length.minimal) {
      return {DecodeError::kNonMinimalVarInt};
    }
    version = negotiated;
  }
  return {std::move(frame), packet_size};
}

}  // namespace

Decoder::Decoder(DecoderOptions options) : options_(options) {}
Decoder::~Decoder() = default;

DecodeResult Decoder::Fail(DecodeError error) {
  error_ = error;
  return error;
}

void Decoder::BufferDeleter::operator()(uint8_t* buffer) const {
  BlockCache::ForThisThread().Give(buffer, capacity);
}

Decoder::Buffer Decoder::Allocate(size_t capacity) {
  return Buffer(BlockCache::ForThisThread().Take(capacity), BufferDeleter{capacity});
}

void Decoder::MakeRoom(size_t size) {
  begin_ += pending_consume_;
  pending_consume_ = 0;
  if (begin_ == end_) begin_ = end_ = 0;
  const size_t held = end_ - begin_;
  // A buffer that grew for one large packet goes back to the size of what it holds once
  // that packet is gone; otherwise a session that received 16 MiB once would keep 32 MiB
  // for as long as a byte of the next packet is waiting. A shrunk buffer grows again by
  // doubling, so a stream of large packets costs one extra copy of each, no more.
  const bool oversized = capacity_ > kShrinkAbove && (held + size) * 4 <= capacity_;
  if (!oversized && capacity_ - end_ >= size) return;
  if (!oversized && begin_ > 0 && capacity_ - held >= size) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, held);
  } else {
    // Doubling stops at the largest packet accepted plus the room asked for: what is held
    // when more room is asked is at most one packet in progress (the complete ones before
    // it are judged first), so a 16 MiB packet never takes a 32 MiB buffer.
    const size_t ceiling = std::max<size_t>(options_.max_packet_size, held) + size;
    const size_t grown = oversized ? (held + size) * 2 : std::max(held + size, capacity_ * 2);
    const size_t new_capacity = std::max(kMinimumCapacity, std::min(grown, ceiling));
    Buffer replacement = Allocate(new_capacity);
    if (held > 0) std::memcpy(replacement.get(), buffer_.get() + begin_, held);
    buffer_ = std::move(replacement);
    capacity_ = new_capacity;
  }
  begin_ = 0;
  end_ = held;
}

void Decoder::Feed(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  MakeRoom(bytes.size());
  std::memcpy(buffer_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

std::span<uint8_t> Decoder::PrepareWrite(size_t min_size) {
  // The buffer grows with what has arrived (MakeRoom doubles it), never with what a
  // fixed header announces: five bytes must not make moat reserve a 256 MiB packet.
  MakeRoom(min_size);
  return {buffer_.get() + end_, capacity_ - end_};
}

void Decoder::CommitWrite(size_t size) { end_ = std::min(end_ + size, capacity_); }

DecodeResult Decoder::Next() {
  if (error_ != DecodeError::kNone) return error_;
  begin_ += pending_consume_;
  pending_consume_ = 0;
  Attempt attempt = DecodeAt({buffer_.get() + begin_, end_ - begin_}, options_, version_);
  if (const auto* error = std::get_if<DecodeError>(&attempt.result)) return Fail(*error);
  if (std::holds_alternative<Frame>(attempt.result)) {
    pending_consume_ = attempt.packet_size;
  }
  return std::move(attempt.result);
}

void Decoder::ReleaseIdleMemory() {
  // The frame returned last still lives in the buffer until the next Next().
  if (end_ != begin_) return;
  buffer_.reset();
  capacity_ = begin_ = end_ = pending_consume_ = 0;
}

std::optional<ProtocolVersion> PeekConnectVersion(std::span<const uint8_t> bytes) {
  if (bytes.empty() || static_cast<PacketType>(bytes[0] >> 4) != PacketType::kConnect) {
    return std::nullopt;
  }
  const VarInt length = ParseVarInt(bytes.subspan(1));
  if (length.status != VarIntStatus::kOk) return std::nullopt;
  ByteReader reader(bytes.subspan(1 + length.size));
  std::string_view name;
  uint8_t level = 0;
  if (!reader.ReadBinary(name) || !reader.ReadU8(level)) return std::nullopt;
  if (level == (3 | kBridgeLevelBit) || level == (4 | kBridgeLevelBit)) {
    level = static_cast<uint8_t>(level & ~kBridgeLevelBit);
  }
  switch (level) {
    case 3:
      return ProtocolVersion::kV31;
    case 4:
      return ProtocolVersion::kV311;
    case 5:
      return ProtocolVersion::kV5;
    default:
      return std::nullopt;
  }
}

DecodeResult DecodeOne(std::span<const uint8_t> bytes, Direction direction,
                       ProtocolVersion version) {
  // A CONNECT sets its own version; anything else needs the connection's.
  if (!bytes.empty() && static_cast<PacketType>(bytes[0] >> 4) == PacketType::kConnect &&
      direction == Direction::kClientToServer) {
    version = ProtocolVersion::kUnknown;
  }
  const DecoderOptions options{direction, kMaxPacketSize};
  Attempt attempt = DecodeAt(bytes, options, version);
  if (const auto* frame = std::get_if<Frame>(&attempt.result);
      frame != nullptr && frame->raw.size() != bytes.size()) {
    return DecodeError::kTrailingBytes;
  }
  if (std::holds_alternative<NeedMore>(attempt.result)) return DecodeError::kTruncated;
  return std::move(attempt.result);
}

}  // namespace moat::mqtt
