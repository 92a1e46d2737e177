#include "proxy/mqtt/properties.h"

#include <algorithm>
#include <array>

#include "proxy/mqtt/property_codec.h"
#include "proxy/mqtt/topic.h"

namespace moat::mqtt {
namespace {

enum class ValueType : uint8_t { kByte, kTwoByte, kFourByte, kVarInt, kUtf8, kBinary, kPair };

// Bit N stands for PacketType N; bit 0 (a reserved packet type) for the Will.
constexpr uint32_t Bit(PacketType type) { return 1u << static_cast<unsigned>(type); }
constexpr uint32_t kWill = Bit(kWillProperties);
constexpr uint32_t kConnect = Bit(PacketType::kConnect);
constexpr uint32_t kConnack = Bit(PacketType::kConnack);
constexpr uint32_t kPublish = Bit(PacketType::kPublish);
constexpr uint32_t kPublishAcks = Bit(PacketType::kPuback) | Bit(PacketType::kPubrec) |
                                  Bit(PacketType::kPubrel) | Bit(PacketType::kPubcomp);
constexpr uint32_t kSubscribe = Bit(PacketType::kSubscribe);
constexpr uint32_t kSuback = Bit(PacketType::kSuback);
constexpr uint32_t kUnsubscribe = Bit(PacketType::kUnsubscribe);
constexpr uint32_t kUnsuback = Bit(PacketType::kUnsuback);
constexpr uint32_t kDisconnect = Bit(PacketType::kDisconnect);
constexpr uint32_t kAuth = Bit(PacketType::kAuth);

// What the value must satisfy beyond its type.
enum class Constraint : uint8_t { kNone, kBoolean, kNonZero, kTopicName, kTopicAlias };

struct PropertySpec {
  ValueType type = ValueType::kByte;
  uint32_t allowed_in = 0;  // 0: the id is not a property
  uint32_t repeatable_in = 0;
  Constraint constraint = Constraint::kNone;
};

// Spec 2.2.2.2, table 2-4.
constexpr std::array<PropertySpec, 0x2B> kPropertyTable = [] {
  std::array<PropertySpec, 0x2B> t{};
  auto set = [&t](PropertyId id, ValueType type, uint32_t allowed,
                  Constraint constraint = Constraint::kNone, uint32_t repeatable = 0) {
    t[static_cast<size_t>(id)] = {type, allowed, repeatable, constraint};
  };
  using P = PropertyId;
  using V = ValueType;
  using C = Constraint;
  set(P::kPayloadFormatIndicator, V::kByte, kPublish | kWill, C::kBoolean);
  set(P::kMessageExpiryInterval, V::kFourByte, kPublish | kWill);
  set(P::kContentType, V::kUtf8, kPublish | kWill);
  set(P::kResponseTopic, V::kUtf8, kPublish | kWill, C::kTopicName);
  set(P::kCorrelationData, V::kBinary, kPublish | kWill);
  // A server may deliver one PUBLISH for several matching subscriptions [MQTT-3.3.4-4].
  set(P::kSubscriptionIdentifier, V::kVarInt, kPublish | kSubscribe, C::kNonZero, kPublish);
  set(P::kSessionExpiryInterval, V::kFourByte, kConnect | kConnack | kDisconnect);
  set(P::kAssignedClientIdentifier, V::kUtf8, kConnack);
  set(P::kServerKeepAlive, V::kTwoByte, kConnack);
  set(P::kAuthenticationMethod, V::kUtf8, kConnect | kConnack | kAuth);
  set(P::kAuthenticationData, V::kBinary, kConnect | kConnack | kAuth);
  set(P::kRequestProblemInformation, V::kByte, kConnect, C::kBoolean);
  set(P::kWillDelayInterval, V::kFourByte, kWill);
  set(P::kRequestResponseInformation, V::kByte, kConnect, C::kBoolean);
  set(P::kResponseInformation, V::kUtf8, kConnack);
  set(P::kServerReference, V::kUtf8, kConnack | kDisconnect);
  set(P::kReasonString, V::kUtf8,
      kConnack | kPublishAcks | kSuback | kUnsuback | kDisconnect | kAuth);
  set(P::kReceiveMaximum, V::kTwoByte, kConnect | kConnack, C::kNonZero);
  set(P::kTopicAliasMaximum, V::kTwoByte, kConnect | kConnack);
  set(P::kTopicAlias, V::kTwoByte, kPublish, C::kTopicAlias);
  set(P::kMaximumQos, V::kByte, kConnack, C::kBoolean);
  set(P::kRetainAvailable, V::kByte, kConnack, C::kBoolean);
  constexpr uint32_t kAnyWithProperties = kWill | kConnect | kConnack | kPublish | kPublishAcks |
                                          kSubscribe | kSuback | kUnsubscribe | kUnsuback |
                                          kDisconnect | kAuth;
  set(P::kUserProperty, V::kPair, kAnyWithProperties, C::kNone, kAnyWithProperties);
  set(P::kMaximumPacketSize, V::kFourByte, kConnect | kConnack, C::kNonZero);
  set(P::kWildcardSubscriptionAvailable, V::kByte, kConnack, C::kBoolean);
  set(P::kSubscriptionIdentifierAvailable, V::kByte, kConnack, C::kBoolean);
  set(P::kSharedSubscriptionAvailable, V::kByte, kConnack, C::kBoolean);
  return t;
}();

const PropertySpec* SpecFor(uint32_t id) {
  if (id >= kPropertyTable.size() || kPropertyTable[id].allowed_in == 0) return nullptr;
  return &kPropertyTable[id];
}

DecodeError ReadValue(ByteReader& reader, ValueType type, Property& out) {
  switch (type) {
    case ValueType::kByte: {
      uint8_t v;
      if (!reader.ReadU8(v)) return DecodeError::kTruncated;
      out.value = uint32_t{v};
      return DecodeError::kNone;
    }
    case ValueType::kTwoByte: {
      uint16_t v;
      if (!reader.ReadU16(v)) return DecodeError::kTruncated;
      out.value = uint32_t{v};
      return DecodeError::kNone;
    }
    case ValueType::kFourByte: {
      uint32_t v;
      if (!reader.ReadU32(v)) return DecodeError::kTruncated;
      out.value = v;
      return DecodeError::kNone;
    }
    case ValueType::kVarInt: {
      uint32_t v = 0;
      if (auto e = reader.ReadVarInt(v, /*require_minimal=*/true); e != DecodeError::kNone) {
        return e == DecodeError::kRemainingLengthTooLong ? DecodeError::kInvalidPropertyValue : e;
      }
      out.value = v;
      return DecodeError::kNone;
    }
    case ValueType::kUtf8: {
      std::string_view v;
      if (auto e = reader.ReadUtf8(v); e != DecodeError::kNone) return e;
      out.value = v;
      return DecodeError::kNone;
    }
    case ValueType::kBinary: {
      std::string_view v;
      if (!reader.ReadBinary(v)) return DecodeError::kTruncated;
      out.value = v;
      return DecodeError::kNone;
    }
    case ValueType::kPair: {
      std::string_view name, value;
      if (auto e = reader.ReadUtf8(name); e != DecodeError::kNone) return e;
      if (auto e = reader.ReadUtf8(value); e != DecodeError::kNone) return e;
      out.value = StringPair{name, value};
      return DecodeError::kNone;
    }
  }
  return DecodeError::kUnknownProperty;
}

DecodeError CheckConstraint(Constraint constraint, const Property& property) {
  switch (constraint) {
    case Constraint::kNone:
      return DecodeError::kNone;
    case Constraint::kBoolean:
      return std::get<uint32_t>(property.value) <= 1 ? DecodeError::kNone
                                                     : DecodeError::kInvalidPropertyValue;
    case Constraint::kNonZero:
      return std::get<uint32_t>(property.value) != 0 ? DecodeError::kNone
                                                     : DecodeError::kInvalidPropertyValue;
    case Constraint::kTopicAlias:
      return std::get<uint32_t>(property.value) != 0 ? DecodeError::kNone
                                                     : DecodeError::kInvalidTopicAlias;
    case Constraint::kTopicName:
      // A Response Topic is a Topic Name: a wildcard in it is as wrong as in PUBLISH.
      return ValidateTopicName(std::get<std::string_view>(property.value)) == DecodeError::kNone
                 ? DecodeError::kNone
                 : DecodeError::kInvalidTopicName;
  }
  return DecodeError::kNone;
}

size_t ValueSize(ValueType type, const Property& property) {
  switch (type) {
    case ValueType::kByte:
      return 1;
    case ValueType::kTwoByte:
      return 2;
    case ValueType::kFourByte:
      return 4;
    case ValueType::kVarInt:
      return VarIntSize(std::get<uint32_t>(property.value));
    case ValueType::kUtf8:
    case ValueType::kBinary:
      return 2 + std::get<std::string_view>(property.value).size();
    case ValueType::kPair: {
      const auto& [name, value] = std::get<StringPair>(property.value);
      return 4 + name.size() + value.size();
    }
  }
  return 0;
}

bool HasValueOfType(ValueType type, const Property& property) {
  switch (type) {
    case ValueType::kUtf8:
    case ValueType::kBinary:
      return std::holds_alternative<std::string_view>(property.value);
    case ValueType::kPair:
      return std::holds_alternative<StringPair>(property.value);
    default:
      return std::holds_alternative<uint32_t>(property.value);
  }
}

uint32_t MaxValue(ValueType type) {
  switch (type) {
    case ValueType::kByte:
      return 0xFF;
    case ValueType::kTwoByte:
      return 0xFFFF;
    case ValueType::kVarInt:
      return kMaxRemainingLength;
    default:
      return 0xFFFFFFFF;
  }
}

bool FitsField(std::string_view s) { return s.size() <= 0xFFFF; }

}  // namespace

std::optional<uint32_t> Properties::Integer(PropertyId id) const {
  for (const Property& p : items) {
    if (p.id == id) {
      if (const auto* v = std::get_if<uint32_t>(&p.value)) return *v;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> Properties::String(PropertyId id) const {
  for (const Property& p : items) {
    if (p.id == id) {
      if (const auto* v = std::get_if<std::string_view>(&p.value)) return *v;
    }
  }
  return std::nullopt;
}

void Properties::Remove(PropertyId id) {
  std::erase_if(items, [id](const Property& p) { return p.id == id; });
}

DecodeError DecodeProperties(ByteReader& reader, PacketType owner, Direction direction,
                             Properties& out) {
  uint32_t length = 0;
  if (auto e = reader.ReadVarInt(length, /*require_minimal=*/true); e != DecodeError::kNone) {
    return e == DecodeError::kRemainingLengthTooLong ? DecodeError::kTruncated : e;
  }
  std::string_view block;
  if (!reader.ReadBytes(length, block)) return DecodeError::kTruncated;
  ByteReader props({reinterpret_cast<const uint8_t*>(block.data()), block.size()});

  const uint32_t owner_bit = Bit(owner);
  uint64_t seen = 0;
  while (!props.empty()) {
    uint32_t id = 0;
    if (auto e = props.ReadVarInt(id, /*require_minimal=*/true); e != DecodeError::kNone) {
      return e == DecodeError::kRemainingLengthTooLong ? DecodeError::kUnknownProperty : e;
    }
    const PropertySpec* spec = SpecFor(id);
    if (spec == nullptr) return DecodeError::kUnknownProperty;
    if ((spec->allowed_in & owner_bit) == 0) return DecodeError::kPropertyNotAllowed;
    if (id == static_cast<uint32_t>(PropertyId::kSubscriptionIdentifier) &&
        owner == PacketType::kPublish && direction == Direction::kClientToServer) {
      return DecodeError::kSubscriptionIdFromClient;
    }
    const uint64_t id_bit = uint64_t{1} << id;
    if ((seen & id_bit) != 0 && (spec->repeatable_in & owner_bit) == 0) {
      return DecodeError::kDuplicateProperty;
    }
    seen |= id_bit;
    Property property{static_cast<PropertyId>(id), uint32_t{0}};
    if (auto e = ReadValue(props, spec->type, property); e != DecodeError::kNone) return e;
    if (auto e = CheckConstraint(spec->constraint, property); e != DecodeError::kNone) return e;
    out.items.push_back(property);
  }
  constexpr uint64_t kMethodBit = uint64_t{1}
                                  << static_cast<int>(PropertyId::kAuthenticationMethod);
  constexpr uint64_t kDataBit = uint64_t{1} << static_cast<int>(PropertyId::kAuthenticationData);
  if ((seen & kDataBit) != 0 && (seen & kMethodBit) == 0) {
    return DecodeError::kAuthDataWithoutMethod;
  }
  return DecodeError::kNone;
}

EncodeError PropertiesSize(const Properties& properties, size_t& size) {
  size = 0;
  for (const Property& p : properties.items) {
    const PropertySpec* spec = SpecFor(static_cast<uint32_t>(p.id));
    if (spec == nullptr || !HasValueOfType(spec->type, p)) return EncodeError::kInvalidForVersion;
    if (const auto* s = std::get_if<std::string_view>(&p.value); s && !FitsField(*s)) {
      return EncodeError::kFieldTooLong;
    }
    if (const auto* pair = std::get_if<StringPair>(&p.value);
        pair && (!FitsField(pair->first) || !FitsField(pair->second))) {
      return EncodeError::kFieldTooLong;
    }
    if (const auto* v = std::get_if<uint32_t>(&p.value); v && *v > MaxValue(spec->type)) {
      return EncodeError::kInvalidForVersion;
    }
    size += 1 + ValueSize(spec->type, p);
  }
  if (size > kMaxRemainingLength) return EncodeError::kPacketTooLarge;
  return EncodeError::kNone;
}

void EncodeProperties(const Properties& properties, size_t size, ByteWriter& writer) {
  writer.VarInt(static_cast<uint32_t>(size));
  for (const Property& p : properties.items) {
    const PropertySpec& spec = *SpecFor(static_cast<uint32_t>(p.id));
    writer.U8(static_cast<uint8_t>(p.id));
    switch (spec.type) {
      case ValueType::kByte:
        writer.U8(static_cast<uint8_t>(std::get<uint32_t>(p.value)));
        break;
      case ValueType::kTwoByte:
        writer.U16(static_cast<uint16_t>(std::get<uint32_t>(p.value)));
        break;
      case ValueType::kFourByte:
        writer.U32(std::get<uint32_t>(p.value));
        break;
      case ValueType::kVarInt:
        writer.VarInt(std::get<uint32_t>(p.value));
        break;
      case ValueType::kUtf8:
      case ValueType::kBinary:
        writer.Binary(std::get<std::string_view>(p.value));
        break;
      case ValueType::kPair: {
        const auto& [name, value] = std::get<StringPair>(p.value);
        writer.Binary(name);
        writer.Binary(value);
        break;
      }
    }
  }
}

}  // namespace moat::mqtt
