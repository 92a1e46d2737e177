// CONNACK, PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT and AUTH: the packets whose body is
// mostly a reason code (spec 3.2, 3.4 to 3.7, 3.14, 3.15).
#include <algorithm>
#include <initializer_list>

#include "proxy/mqtt/packet_decoders.h"
#include "proxy/mqtt/property_codec.h"

namespace moat::mqtt {
namespace {

bool IsV5(const DecodeContext& context) { return context.version == ProtocolVersion::kV5; }

bool OneOf(uint8_t code, std::initializer_list<uint8_t> codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// MQTT 5 packets may end after the reason code (or before it, meaning 0x00 Success)
// when there are no properties.
DecodeError ReadOptionalReasonAndProperties(ByteReader& reader, const DecodeContext& context,
                                            PacketType type, uint8_t& reason_code,
                                            Properties& properties) {
  if (reader.empty()) return DecodeError::kNone;
  if (!reader.ReadU8(reason_code)) return DecodeError::kTruncated;
  if (!IsDefinedReasonCode(type, context.version, reason_code)) {
    return DecodeError::kInvalidReasonCode;
  }
  if (reader.empty()) return DecodeError::kNone;
  return DecodeProperties(reader, type, context.direction, properties);
}

}  // namespace

bool IsDefinedReasonCode(PacketType type, ProtocolVersion version, uint8_t code) {
  if (version != ProtocolVersion::kV5) {
    switch (type) {
      case PacketType::kConnack:
        return code <= static_cast<uint8_t>(ConnectReturnCode::kNotAuthorized);
      case PacketType::kSuback:
        return OneOf(code, {0x00, 0x01, 0x02, 0x80});
      default:
        return false;  // other packets carry no codes before MQTT 5
    }
  }
  switch (type) {
    case PacketType::kConnack:
      return OneOf(code, {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                          0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F});
    case PacketType::kPuback:
    case PacketType::kPubrec:
      return OneOf(code, {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99});
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return OneOf(code, {0x00, 0x92});
    case PacketType::kSuback:
      return OneOf(code, {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2});
    case PacketType::kUnsuback:
      return OneOf(code, {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91});
    case PacketType::kDisconnect:
      return OneOf(code, {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                          0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                          0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2});
    case PacketType::kAuth:
      return OneOf(code, {0x00, 0x18, 0x19});
    default:
      return false;
  }
}

DecodeError DecodeConnack(ByteReader& reader, const DecodeContext& context, Connack& out) {
  uint8_t flags = 0;
  if (!reader.ReadU8(flags) || !reader.ReadU8(out.reason_code)) return DecodeError::kTruncated;
  if ((flags & 0xFE) != 0) return DecodeError::kInvalidConnackFlags;  // [MQTT-3.2.2-1]
  out.session_present = (flags & 0x01) != 0;
  if (!IsDefinedReasonCode(PacketType::kConnack, context.version, out.reason_code)) {
    return DecodeError::kInvalidReasonCode;
  }
  // A refused connection has no session [MQTT-3.2.2-4 of 3.1.1, MQTT-3.2.2-6 of 5.0].
  if (out.session_present && out.reason_code != 0) return DecodeError::kInvalidConnackFlags;
  if (!IsV5(context)) return DecodeError::kNone;
  return DecodeProperties(reader, PacketType::kConnack, context.direction, out.properties);
}

template <PacketType kType>
DecodeError DecodePublishResponse(ByteReader& reader, const DecodeContext& context,
                                  PublishResponse<kType>& out) {
  if (auto e = ReadPacketId(reader, out.packet_id); e != DecodeError::kNone) return e;
  if (!IsV5(context)) return DecodeError::kNone;
  return ReadOptionalReasonAndProperties(reader, context, kType, out.reason_code, out.properties);
}

template DecodeError DecodePublishResponse(ByteReader&, const DecodeContext&, Puback&);
template DecodeError DecodePublishResponse(ByteReader&, const DecodeContext&, Pubrec&);
template DecodeError DecodePublishResponse(ByteReader&, const DecodeContext&, Pubrel&);
template DecodeError DecodePublishResponse(ByteReader&, const DecodeContext&, Pubcomp&);

DecodeError DecodeDisconnect(ByteReader& reader, const DecodeContext& context, Disconnect& out) {
  if (!IsV5(context)) return DecodeError::kNone;
  return ReadOptionalReasonAndProperties(reader, context, PacketType::kDisconnect, out.reason_code,
                                         out.properties);
}

DecodeError DecodeAuth(ByteReader& reader, const DecodeContext& context, Auth& out) {
  return ReadOptionalReasonAndProperties(reader, context, PacketType::kAuth, out.reason_code,
                                         out.properties);
}

}  // namespace moat::mqtt
