// PUBLISH (spec 3.3). The fixed header flags were checked by the Decoder.
#include "proxy/mqtt/packet_decoders.h"
#include "proxy/mqtt/property_codec.h"
#include "proxy/mqtt/topic.h"

namespace moat::mqtt {

DecodeError ReadPacketId(ByteReader& reader, uint16_t& out) {
  if (!reader.ReadU16(out)) return DecodeError::kTruncated;
  return out == 0 ? DecodeError::kZeroPacketId : DecodeError::kNone;
}

DecodeError DecodePublish(ByteReader& reader, const DecodeContext& context, Publish& out) {
  out.dup = (context.flags & 0x08) != 0;
  out.qos = (context.flags >> 1) & 0x03;
  out.retain = (context.flags & 0x01) != 0;
  if (auto e = reader.ReadUtf8(out.topic); e != DecodeError::kNone) return e;
  if (out.qos > 0) {
    if (auto e = ReadPacketId(reader, out.packet_id); e != DecodeError::kNone) return e;
  }
  if (context.version == ProtocolVersion::kV5) {
    if (auto e = DecodeProperties(reader, PacketType::kPublish, context.direction, out.properties);
        e != DecodeError::kNone) {
      return e;
    }
  }
  const DecodeError topic_error = ValidateTopicName(out.topic);
  // MQTT 5 lets a Topic Alias stand for the topic [MQTT-3.3.2-1, 3.3.2.3.4].
  const bool aliased = context.version == ProtocolVersion::kV5 &&
                       out.properties.Integer(PropertyId::kTopicAlias).has_value();
  if (topic_error != DecodeError::kNone &&
      !(topic_error == DecodeError::kEmptyTopicName && aliased)) {
    return topic_error;
  }
  out.payload = reader.ReadRest();
  return DecodeError::kNone;
}

}  // namespace moat::mqtt
