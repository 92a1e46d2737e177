// One decode function per packet type; internal to the codec. Each reads the variable
// header and payload of a packet whose fixed header the Decoder has already checked,
// and must consume the body exactly (the caller refuses trailing bytes).
#pragma once

#include <cstdint>

#include "proxy/mqtt/byte_reader.h"
#include "proxy/mqtt/decode_error.h"
#include "proxy/mqtt/packet.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt {

struct DecodeContext {
  ProtocolVersion version;  // kUnknown only while decoding CONNECT
  Direction direction;
  uint8_t flags;  // low four bits of the fixed header
};

DecodeError DecodeConnect(ByteReader& reader, Connect& out);
DecodeError DecodeConnack(ByteReader& reader, const DecodeContext& context, Connack& out);
DecodeError DecodePublish(ByteReader& reader, const DecodeContext& context, Publish& out);
template <PacketType kType>
DecodeError DecodePublishResponse(ByteReader& reader, const DecodeContext& context,
                                  PublishResponse<kType>& out);
DecodeError DecodeSubscribe(ByteReader& reader, const DecodeContext& context, Subscribe& out);
DecodeError DecodeSuback(ByteReader& reader, const DecodeContext& context, Suback& out);
DecodeError DecodeUnsubscribe(ByteReader& reader, const DecodeContext& context, Unsubscribe& out);
DecodeError DecodeUnsuback(ByteReader& reader, const DecodeContext& context, Unsuback& out);
DecodeError DecodeDisconnect(ByteReader& reader, const DecodeContext& context, Disconnect& out);
DecodeError DecodeAuth(ByteReader& reader, const DecodeContext& context, Auth& out);

// Reads a packet identifier, refusing 0 [MQTT-2.2.1-3].
DecodeError ReadPacketId(ByteReader& reader, uint16_t& out);

// Whether `code` is one the spec defines for this packet type in this version.
bool IsDefinedReasonCode(PacketType type, ProtocolVersion version, uint8_t code);

}  // namespace moat::mqtt
