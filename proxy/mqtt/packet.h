// The MQTT control packets as plain value types, one struct per packet type, shared by
// all three protocol versions (fields a version lacks keep their defaults). String and
// binary fields are views: into the decoder's buffer for a decoded packet, into the
// caller's storage for a packet built to be encoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/mqtt/properties.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt {

// Binary data (passwords, payloads): any bytes, not validated as UTF-8.
using Bytes = std::string_view;

struct Will {
  uint8_t qos = 0;
  bool retain = false;
  std::string_view topic;
  Bytes payload;
  Properties properties;  // MQTT 5

  bool operator==(const Will&) const = default;
};

struct Connect {
  ProtocolVersion version = ProtocolVersion::kV311;
  bool bridge = false;      // kBridgeLevelBit was set on the level (3.1 and 3.1.1 only)
  bool clean_start = true;  // "clean session" before MQTT 5
  uint16_t keep_alive = 0;  // seconds; 0 disables keep-alive
  std::string_view client_id;
  std::optional<Will> will;
  std::optional<std::string_view> username;
  std::optional<Bytes> password;
  Properties properties;  // MQTT 5

  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  // MQTT 5 reason code, or the 3.1/3.1.1 return code (ConnectReturnCode).
  uint8_t reason_code = 0;
  Properties properties;

  bool operator==(const Connack&) const = default;
};

struct Publish {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string_view topic;  // may be empty in MQTT 5 when a Topic Alias stands for it
  uint16_t packet_id = 0;  // only present on the wire for QoS 1 and 2
  Properties properties;
  Bytes payload;

  bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout; the tag keeps them apart as
// types so the variant and std::visit can tell them apart.
template <PacketType kType>
struct PublishResponse {
  static constexpr PacketType kPacketType = kType;
  uint16_t packet_id = 0;
  uint8_t reason_code = 0;  // MQTT 5
  Properties properties;    // MQTT 5

  bool operator==(const PublishResponse&) const = default;
};
using Puback = PublishResponse<PacketType::kPuback>;
using Pubrec = PublishResponse<PacketType::kPubrec>;
using Pubrel = PublishResponse<PacketType::kPubrel>;
using Pubcomp = PublishResponse<PacketType::kPubcomp>;

struct Subscription {
  std::string_view filter;
  uint8_t qos = 0;
  bool no_local = false;             // MQTT 5
  bool retain_as_published = false;  // MQTT 5
  uint8_t retain_handling = 0;       // MQTT 5

  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<Subscription> subscriptions;

  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<uint8_t> reason_codes;  // one per filter, in the SUBSCRIBE's order

  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string_view> filters;

  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<uint8_t> reason_codes;  // MQTT 5 only: earlier versions carry none

  bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
  bool operator==(const Pingresp&) const = default;
};

struct Disconnect {
  uint8_t reason_code = 0;  // MQTT 5
  Properties properties;    // MQTT 5

  bool operator==(const Disconnect&) const = default;
};

struct Auth {  // MQTT 5 only
  uint8_t reason_code = 0;
  Properties properties;

  bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

PacketType TypeOf(const Packet& packet);

}  // namespace moat::mqtt
