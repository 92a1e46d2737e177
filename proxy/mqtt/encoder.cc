#include "proxy/mqtt/encoder.h"

#include <cstring>

#include "proxy/mqtt/byte_writer.h"
#include "proxy/mqtt/property_codec.h"

namespace moat::mqtt {
namespace {

// Writes one packet body; the fixed header is added around it by Encode().
class BodyWriter {
 public:
  BodyWriter(ProtocolVersion version, std::vector<uint8_t>& out)
      : version_(version), writer_(out) {}

  uint8_t flags() const { return flags_; }

  EncodeError operator()(const Connect& p);
  EncodeError operator()(const Connack& p);
  EncodeError operator()(const Publish& p);
  template <PacketType kType>
  EncodeError operator()(const PublishResponse<kType>& p) {
    if (kType == PacketType::kPubrel) flags_ = 0x02;
    if (p.packet_id == 0) return EncodeError::kInvalidForVersion;
    writer_.U16(p.packet_id);
    return ReasonAndProperties(p.reason_code, p.properties, /*omit_when_default=*/true);
  }
  EncodeError operator()(const Subscribe& p);
  EncodeError operator()(const Suback& p);
  EncodeError operator()(const Unsubscribe& p);
  EncodeError operator()(const Unsuback& p);
  EncodeError operator()(const Pingreq&) { return EncodeError::kNone; }
  EncodeError operator()(const Pingresp&) { return EncodeError::kNone; }
  EncodeError operator()(const Disconnect& p) {
    return ReasonAndProperties(p.reason_code, p.properties, /*omit_when_default=*/true);
  }
  EncodeError operator()(const Auth& p) {
    if (!IsV5()) return EncodeError::kInvalidForVersion;
    return ReasonAndProperties(p.reason_code, p.properties, /*omit_when_default=*/true);
  }

 private:
  bool IsV5() const { return version_ == ProtocolVersion::kV5; }

  EncodeError Field(std::string_view s) {
    if (s.size() > 0xFFFF) return EncodeError::kFieldTooLong;
    writer_.Binary(s);
    return EncodeError::kNone;
  }

  // Properties exist only in MQTT 5; an earlier version must not be asked to carry
  // them, since dropping them silently would change the packet's meaning.
  EncodeError PropertiesIfV5(const Properties& properties) {
    if (!IsV5()) return properties.empty() ? EncodeError::kNone : EncodeError::kInvalidForVersion;
    size_t size = 0;
    if (auto e = PropertiesSize(properties, size); e != EncodeError::kNone) return e;
    EncodeProperties(properties, size, writer_);
    return EncodeError::kNone;
  }

  // MQTT 5 lets these packets end early when the reason is Success and no properties
  // follow; the shortest form is what brokers send.
  EncodeError ReasonAndProperties(uint8_t reason_code, const Properties& properties,
                                  bool omit_when_default) {
    if (!IsV5()) {
      return reason_code == 0 && properties.empty() ? EncodeError::kNone
                                                    : EncodeError::kInvalidForVersion;
    }
    if (omit_when_default && reason_code == 0 && properties.empty()) return EncodeError::kNone;
    writer_.U8(reason_code);
    if (properties.empty()) return EncodeError::kNone;
    return PropertiesIfV5(properties);
  }

  ProtocolVersion version_;
  ByteWriter writer_;
  uint8_t flags_ = 0;
};

EncodeError BodyWriter::operator()(const Connect& p) {
  const bool v31 = p.version == ProtocolVersion::kV31;
  if (p.version != ProtocolVersion::kV31 && p.version != ProtocolVersion::kV311 &&
      p.version != ProtocolVersion::kV5) {
    return EncodeError::kInvalidForVersion;
  }
  version_ = p.version;
  if (p.password && !p.username && !IsV5()) return EncodeError::kInvalidForVersion;
  if (p.bridge && IsV5()) return EncodeError::kInvalidForVersion;
  if (p.will && p.will->qos > 2) return EncodeError::kInvalidForVersion;
  writer_.Binary(v31 ? "MQIsdp" : "MQTT");
  uint8_t level = static_cast<uint8_t>(p.version);
  if (p.bridge) level |= kBridgeLevelBit;
  writer_.U8(level);
  uint8_t flags = p.clean_start ? 0x02 : 0x00;
  if (p.will) {
    flags |= 0x04 | static_cast<uint8_t>(p.will->qos << 3) | (p.will->retain ? 0x20 : 0x00);
  }
  if (p.password) flags |= 0x40;
  if (p.username) flags |= 0x80;
  writer_.U8(flags);
  writer_.U16(p.keep_alive);
  if (auto e = PropertiesIfV5(p.properties); e != EncodeError::kNone) return e;
  if (auto e = Field(p.client_id); e != EncodeError::kNone) return e;
  if (p.will) {
    if (auto e = PropertiesIfV5(p.will->properties); e != EncodeError::kNone) return e;
    if (auto e = Field(p.will->topic); e != EncodeError::kNone) return e;
    if (auto e = Field(p.will->payload); e != EncodeError::kNone) return e;
  }
  if (p.username) {
    if (auto e = Field(*p.username); e != EncodeError::kNone) return e;
  }
  if (p.password) {
    if (auto e = Field(*p.password); e != EncodeError::kNone) return e;
  }
  return EncodeError::kNone;
}

EncodeError BodyWriter::operator()(const Connack& p) {
  writer_.U8(p.session_present ? 0x01 : 0x00);
  writer_.U8(p.reason_code);
  if (!IsV5()) return p.properties.empty() ? EncodeError::kNone : EncodeError::kInvalidForVersion;
  return PropertiesIfV5(p.properties);
}

EncodeError BodyWriter::operator()(const Publish& p) {
  if (p.qos > 2 || (p.qos > 0 && p.packet_id == 0)) return EncodeError::kInvalidForVersion;
  flags_ = static_cast<uint8_t>((p.dup ? 0x08 : 0x00) | (p.qos << 1) | (p.retain ? 0x01 : 0x00));
  if (auto e = Field(p.topic); e != EncodeError::kNone) return e;
  if (p.qos > 0) writer_.U16(p.packet_id);
  if (auto e = PropertiesIfV5(p.properties); e != EncodeError::kNone) return e;
  writer_.Raw(p.payload);
  return EncodeError::kNone;
}

EncodeError BodyWriter::operator()(const Subscribe& p) {
  flags_ = 0x02;
  // An empty SUBSCRIBE is a protocol error [MQTT-3.8.3-3]; moat answers one whose every
  // filter it refused itself instead of sending this.
  if (p.packet_id == 0 || p.subscriptions.empty()) return EncodeError::kInvalidForVersion;
  writer_.U16(p.packet_id);
  if (auto e = PropertiesIfV5(p.properties); e != EncodeError::kNone) return e;
  for (const Subscription& s : p.subscriptions) {
    if (auto e = Field(s.filter); e != EncodeError::kNone) return e;
    if (s.qos > 2 || s.retain_handling > 2) return EncodeError::kInvalidForVersion;
    uint8_t options = s.qos;
    if (IsV5()) {
      options |= static_cast<uint8_t>((s.no_local ? 0x04 : 0) | (s.retain_as_published ? 0x08 : 0) |
                                      (s.retain_handling << 4));
    } else if (s.no_local || s.retain_as_published || s.retain_handling != 0) {
      return EncodeError::kInvalidForVersion;
    }
    writer_.U8(options);
  }
  return EncodeError::kNone;
}

EncodeError BodyWriter::operator()(const Suback& p) {
  writer_.U16(p.packet_id);
  if (auto e = PropertiesIfV5(p.properties); e != EncodeError::kNone) return e;
  for (uint8_t code : p.reason_codes) writer_.U8(code);
  return EncodeError::kNone;
}

EncodeError BodyWriter::operator()(const Unsubscribe& p) {
  flags_ = 0x02;
  if (p.packet_id == 0 || p.filters.empty())
    return EncodeError::kInvalidForVersion;  // [MQTT-3.10.3-2]
  writer_.U16(p.packet_id);
  if (auto e = PropertiesIfV5(p.properties); e != EncodeError::kNone) return e;
  for (std::string_view filter : p.filters) {
    if (auto e = Field(filter); e != EncodeError::kNone) return e;
  }
  return EncodeError::kNone;
}

EncodeError BodyWriter::operator()(const Unsuback& p) {
  writer_.U16(p.packet_id);
  if (!IsV5()) {
    return p.reason_codes.empty() && p.properties.empty() ? EncodeError::kNone
                                                          : EncodeError::kInvalidForVersion;
  }
  if (auto e = PropertiesIfV5(p.properties); e != EncodeError::kNone) return e;
  for (uint8_t code : p.reason_codes) writer_.U8(code);
  return EncodeError::kNone;
}

}  // namespace

std::string_view EncodeErrorName(EncodeError error) {
  switch (error) {
    case EncodeError::kNone:
      return "none";
    case EncodeError::kFieldTooLong:
      return "field_too_long";
    case EncodeError::kPacketTooLarge:
      return "packet_too_large";
    case EncodeError::kInvalidForVersion:
      return "invalid_for_version";
  }
  return "unknown";
}

EncodeError Encode(const Packet& packet, ProtocolVersion version, std::vector<uint8_t>& out) {
  const size_t start = out.size();
  // Reserve the longest fixed header, write the body after it, then slide the body
  // back once its length, and so the header's length, is known.
  constexpr size_t kMaxHeader = 5;
  out.resize(start + kMaxHeader);
  BodyWriter body(version, out);
  const EncodeError error = std::visit(body, packet);
  const size_t body_size = out.size() - start - kMaxHeader;
  if (error == EncodeError::kNone && body_size > kMaxRemainingLength) {
    out.resize(start);
    return EncodeError::kPacketTooLarge;
  }
  if (error != EncodeError::kNone) {
    out.resize(start);
    return error;
  }
  std::vector<uint8_t> header;
  ByteWriter header_writer(header);
  header_writer.U8(static_cast<uint8_t>(static_cast<uint8_t>(TypeOf(packet)) << 4 | body.flags()));
  header_writer.VarInt(static_cast<uint32_t>(body_size));
  const size_t shift = kMaxHeader - header.size();
  std::memcpy(out.data() + start + shift, header.data(), header.size());
  if (shift > 0) out.erase(out.begin() + start, out.begin() + start + shift);
  return EncodeError::kNone;
}

}  // namespace moat::mqtt
