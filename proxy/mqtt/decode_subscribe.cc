// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (spec 3.8 to 3.11).
#include "proxy/mqtt/packet_decoders.h"
#include "proxy/mqtt/property_codec.h"
#include "proxy/mqtt/topic.h"

namespace moat::mqtt {
namespace {

bool IsV5(const DecodeContext& context) { return context.version == ProtocolVersion::kV5; }

DecodeError ReadIdAndProperties(ByteReader& reader, const DecodeContext& context, PacketType type,
                                uint16_t& packet_id, Properties& properties) {
  if (auto e = ReadPacketId(reader, packet_id); e != DecodeError::kNone) return e;
  if (!IsV5(context)) return DecodeError::kNone;
  return DecodeProperties(reader, type, context.direction, properties);
}

DecodeError ReadFilter(ByteReader& reader, std::string_view& filter) {
  if (auto e = reader.ReadUtf8(filter); e != DecodeError::kNone) return e;
  return ValidateTopicFilter(filter);
}

DecodeError ParseOptions(uint8_t options, const DecodeContext& context, Subscription& out) {
  // Bits above the QoS are reserved before MQTT 5 [MQTT-3-8.3-4 of 3.1.1]; MQTT 5 uses
  // bits 2..5 and reserves 6 and 7 [MQTT-3.8.3-5].
  const uint8_t reserved_mask = IsV5(context) ? 0xC0 : 0xFC;
  if ((options & reserved_mask) != 0) return DecodeError::kInvalidSubscriptionOptions;
  out.qos = options & 0x03;
  if (out.qos == 3) return DecodeError::kInvalidQos;
  if (!IsV5(context)) return DecodeError::kNone;
  out.no_local = (options & 0x04) != 0;
  out.retain_as_published = (options & 0x08) != 0;
  out.retain_handling = (options >> 4) & 0x03;
  if (out.retain_handling == 3) return DecodeError::kInvalidRetainHandling;
  if (out.no_local && ParseSharedSubscription(out.filter).has_value()) {
    return DecodeError::kNoLocalOnSharedSubscription;
  }
  return DecodeError::kNone;
}

DecodeError ReadReasonCodes(ByteReader& reader, PacketType type, ProtocolVersion version,
                            std::vector<uint8_t>& out) {
  const std::string_view codes = reader.ReadRest();
  out.reserve(codes.size());
  for (char c : codes) {
    const auto code = static_cast<uint8_t>(c);
    if (!IsDefinedReasonCode(type, version, code)) return DecodeError::kInvalidReasonCode;
    out.push_back(code);
  }
  return DecodeError::kNone;
}

}  // namespace

DecodeError DecodeSubscribe(ByteReader& reader, const DecodeContext& context, Subscribe& out) {
  if (auto e = ReadIdAndProperties(reader, context, PacketType::kSubscribe, out.packet_id,
                                   out.properties);
      e != DecodeError::kNone) {
    return e;
  }
  while (!reader.empty()) {
    Subscription& subscription = out.subscriptions.emplace_back();
    if (auto e = ReadFilter(reader, subscription.filter); e != DecodeError::kNone) return e;
    uint8_t options = 0;
    if (!reader.ReadU8(options)) return DecodeError::kTruncated;
    if (auto e = ParseOptions(options, context, subscription); e != DecodeError::kNone) return e;
  }
  return out.subscriptions.empty() ? DecodeError::kEmptySubscribe : DecodeError::kNone;
}

DecodeError DecodeSuback(ByteReader& reader, const DecodeContext& context, Suback& out) {
  if (auto e =
          ReadIdAndProperties(reader, context, PacketType::kSuback, out.packet_id, out.properties);
      e != DecodeError::kNone) {
    return e;
  }
  if (reader.empty()) return DecodeError::kTruncated;  // one code per filter, at least one
  return ReadReasonCodes(reader, PacketType::kSuback, context.version, out.reason_codes);
}

DecodeError DecodeUnsubscribe(ByteReader& reader, const DecodeContext& context, Unsubscribe& out) {
  if (auto e = ReadIdAndProperties(reader, context, PacketType::kUnsubscribe, out.packet_id,
                                   out.properties);
      e != DecodeError::kNone) {
    return e;
  }
  while (!reader.empty()) {
    if (auto e = ReadFilter(reader, out.filters.emplace_back()); e != DecodeError::kNone) {
      return e;
    }
  }
  return out.filters.empty() ? DecodeError::kEmptyUnsubscribe : DecodeError::kNone;
}

DecodeError DecodeUnsuback(ByteReader& reader, const DecodeContext& context, Unsuback& out) {
  if (auto e = ReadIdAndProperties(reader, context, PacketType::kUnsuback, out.packet_id,
                                   out.properties);
      e != DecodeError::kNone) {
    return e;
  }
  // Before MQTT 5 an UNSUBACK is only its packet identifier; trailing bytes are refused
  // by the caller.
  if (!IsV5(context)) return DecodeError::kNone;
  if (reader.empty()) return DecodeError::kTruncated;
  return ReadReasonCodes(reader, PacketType::kUnsuback, context.version, out.reason_codes);
}

}  // namespace moat::mqtt
