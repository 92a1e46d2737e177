// CONNECT (spec 3.1 of MQTT 3.1.1 and 5.0; MQTT 3.1 differs only in its protocol name).
#include "proxy/mqtt/packet_decoders.h"
#include "proxy/mqtt/property_codec.h"
#include "proxy/mqtt/topic.h"

namespace moat::mqtt {
namespace {

constexpr uint8_t kReservedFlag = 0x01;
constexpr uint8_t kCleanStartFlag = 0x02;
constexpr uint8_t kWillFlag = 0x04;
constexpr uint8_t kWillQosMask = 0x18;
constexpr uint8_t kWillRetainFlag = 0x20;
constexpr uint8_t kPasswordFlag = 0x40;
constexpr uint8_t kUsernameFlag = 0x80;

DecodeError ReadProtocol(ByteReader& reader, Connect& out) {
  std::string_view name;
  uint8_t level = 0;
  if (!reader.ReadBinary(name) || !reader.ReadU8(level)) return DecodeError::kTruncated;
  // mosquitto bridges (try_private) mark 3.1 and 3.1.1 CONNECTs with the level's top bit,
  // never 5.0; it is kept so the broker behind moat still skips the bridge's own
  // messages when it delivers and no message loops between the two brokers.
  const bool bridge = (level & kBridgeLevelBit) != 0;
  const auto base = static_cast<uint8_t>(level & ~kBridgeLevelBit);
  if (name == "MQTT") {
    if (base == 4 || (base == 5 && !bridge)) {
      out.version = static_cast<ProtocolVersion>(base);
      out.bridge = bridge;
      return DecodeError::kNone;
    }
    // Level 3 under the name "MQTT" is neither 3.1 nor 3.1.1.
    return DecodeError::kUnsupportedProtocolVersion;
  }
  if (name == "MQIsdp") {
    if (base == 3) {
      out.version = ProtocolVersion::kV31;
      out.bridge = bridge;
      return DecodeError::kNone;
    }
    return DecodeError::kUnsupportedProtocolVersion;
  }
  return DecodeError::kInvalidProtocolName;
}

DecodeError CheckFlags(uint8_t flags, ProtocolVersion version) {
  if ((flags & kReservedFlag) != 0) return DecodeError::kConnectReservedFlag;
  const uint8_t will_qos = (flags & kWillQosMask) >> 3;
  if ((flags & kWillFlag) == 0) {
    if (will_qos != 0 || (flags & kWillRetainFlag) != 0) return DecodeError::kInvalidWillFlags;
  } else if (will_qos == 3) {
    return DecodeError::kInvalidWillFlags;
  }
  if (version != ProtocolVersion::kV5 && (flags & kPasswordFlag) != 0 &&
      (flags & kUsernameFlag) == 0) {
    return DecodeError::kPasswordWithoutUsername;
  }
  return DecodeError::kNone;
}

DecodeError ReadWill(ByteReader& reader, uint8_t flags, ProtocolVersion version, Will& will) {
  will.qos = (flags & kWillQosMask) >> 3;
  will.retain = (flags & kWillRetainFlag) != 0;
  if (version == ProtocolVersion::kV5) {
    if (auto e =
            DecodeProperties(reader, kWillProperties, Direction::kClientToServer, will.properties);
        e != DecodeError::kNone) {
      return e;
    }
  }
  if (auto e = reader.ReadUtf8(will.topic); e != DecodeError::kNone) return e;
  if (auto e = ValidateTopicName(will.topic); e != DecodeError::kNone) {
    return e == DecodeError::kEmptyTopicName ? DecodeError::kInvalidTopicName : e;
  }
  if (!reader.ReadBinary(will.payload)) return DecodeError::kTruncated;
  return DecodeError::kNone;
}

}  // namespace

DecodeError DecodeConnect(ByteReader& reader, Connect& out) {
  if (auto e = ReadProtocol(reader, out); e != DecodeError::kNone) return e;
  uint8_t flags = 0;
  if (!reader.ReadU8(flags) || !reader.ReadU16(out.keep_alive)) return DecodeError::kTruncated;
  if (auto e = CheckFlags(flags, out.version); e != DecodeError::kNone) return e;
  out.clean_start = (flags & kCleanStartFlag) != 0;
  if (out.version == ProtocolVersion::kV5) {
    if (auto e = DecodeProperties(reader, PacketType::kConnect, Direction::kClientToServer,
                                  out.properties);
        e != DecodeError::kNone) {
      return e;
    }
  }
  // Payload order is fixed: client id, will, user name, password [MQTT-3.1.3-1].
  if (auto e = reader.ReadUtf8(out.client_id); e != DecodeError::kNone) return e;
  if ((flags & kWillFlag) != 0) {
    if (auto e = ReadWill(reader, flags, out.version, out.will.emplace());
        e != DecodeError::kNone) {
      return e;
    }
  }
  if ((flags & kUsernameFlag) != 0) {
    if (auto e = reader.ReadUtf8(out.username.emplace()); e != DecodeError::kNone) return e;
  }
  if ((flags & kPasswordFlag) != 0) {
    if (!reader.ReadBinary(out.password.emplace())) return DecodeError::kTruncated;
  }
  return DecodeError::kNone;
}

}  // namespace moat::mqtt
