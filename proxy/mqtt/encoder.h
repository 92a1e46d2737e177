// Encodes packets moat synthesises or rewrites (CONNACK, SUBACK, PUBACK, ..., a
// SUBSCRIBE with some filters removed, a CONNECT with other credentials).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/mqtt/packet.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt {

enum class EncodeError : uint8_t {
  kNone = 0,
  kFieldTooLong,       // a string or binary field over 65,535 bytes
  kPacketTooLarge,     // Remaining Length over 268,435,455
  kInvalidForVersion,  // e.g. AUTH before MQTT 5, a QoS above 2, packet id 0 on QoS > 0
};

std::string_view EncodeErrorName(EncodeError error);

// Appends the encoded packet to `out`. `version` decides the layout; a Connect is
// always encoded with its own `version`. On error `out` is left as it was.
EncodeError Encode(const Packet& packet, ProtocolVersion version, std::vector<uint8_t>& out);

}  // namespace moat::mqtt
