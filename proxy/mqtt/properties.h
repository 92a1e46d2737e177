// MQTT 5 properties (spec 2.2.2): a list kept in wire order, values referring into the
// decoder's buffer. Which property may appear in which packet, its data type and
// whether it may repeat live in one table in properties.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace moat::mqtt {

enum class PropertyId : uint8_t {
  kPayloadFormatIndicator = 0x01,
  kMessageExpiryInterval = 0x02,
  kContentType = 0x03,
  kResponseTopic = 0x08,
  kCorrelationData = 0x09,
  kSubscriptionIdentifier = 0x0B,
  kSessionExpiryInterval = 0x11,
  kAssignedClientIdentifier = 0x12,
  kServerKeepAlive = 0x13,
  kAuthenticationMethod = 0x15,
  kAuthenticationData = 0x16,
  kRequestProblemInformation = 0x17,
  kWillDelayInterval = 0x18,
  kRequestResponseInformation = 0x19,
  kResponseInformation = 0x1A,
  kServerReference = 0x1C,
  kReasonString = 0x1F,
  kReceiveMaximum = 0x21,
  kTopicAliasMaximum = 0x22,
  kTopicAlias = 0x23,
  kMaximumQos = 0x24,
  kRetainAvailable = 0x25,
  kUserProperty = 0x26,
  kMaximumPacketSize = 0x27,
  kWildcardSubscriptionAvailable = 0x28,
  kSubscriptionIdentifierAvailable = 0x29,
  kSharedSubscriptionAvailable = 0x2A,
};

using StringPair = std::pair<std::string_view, std::string_view>;

struct Property {
  PropertyId id;
  // Integers (byte, two/four byte, variable byte), strings or binary data, or a
  // User Property's name and value; which one is fixed by `id`.
  std::variant<uint32_t, std::string_view, StringPair> value;

  bool operator==(const Property&) const = default;
};

struct Properties {
  std::vector<Property> items;

  bool empty() const { return items.empty(); }
  // The first occurrence; the decoder guarantees non-repeatable ids occur at most once.
  std::optional<uint32_t> Integer(PropertyId id) const;
  std::optional<std::string_view> String(PropertyId id) const;
  void AddInteger(PropertyId id, uint32_t value) { items.push_back({id, value}); }
  void AddString(PropertyId id, std::string_view value) { items.push_back({id, value}); }
  void AddUserProperty(std::string_view name, std::string_view value) {
    items.push_back({PropertyId::kUserProperty, StringPair{name, value}});
  }
  void Remove(PropertyId id);

  bool operator==(const Properties&) const = default;
};

}  // namespace moat::mqtt
