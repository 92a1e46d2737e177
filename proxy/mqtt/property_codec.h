// Reading and writing MQTT 5 property lists; internal to the codec.
#pragma once

#include <cstddef>

#include "proxy/mqtt/byte_reader.h"
#include "proxy/mqtt/byte_writer.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/mqtt/properties.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt {

// Properties belong to a packet type, or to the Will inside a CONNECT.
inline constexpr PacketType kWillProperties = PacketType::kReserved;

// Reads a Property Length and that many bytes of properties, checking each property's
// id, type, value, repetition and whether `owner` may carry it.
DecodeError DecodeProperties(ByteReader& reader, PacketType owner, Direction direction,
                             Properties& out);

// Size of the encoded list without its length prefix, or nullopt-like 0 with `error`.
EncodeError PropertiesSize(const Properties& properties, size_t& size);

// Writes the Property Length and the list; PropertiesSize must have succeeded.
void EncodeProperties(const Properties& properties, size_t size, ByteWriter& writer);

}  // namespace moat::mqtt
