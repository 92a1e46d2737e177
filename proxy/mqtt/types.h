// Vocabulary shared by every part of the codec: protocol levels, packet types and the
// MQTT 5 reason codes that every refusal is expressed in.
#pragma once

#include <cstdint>
#include <string_view>

namespace moat::mqtt {

// The CONNECT protocol level byte. kUnknown is a decoder that has not seen CONNECT yet.
enum class ProtocolVersion : uint8_t {
  kUnknown = 0,
  kV31 = 3,   // MQTT 3.1, protocol name "MQIsdp"
  kV311 = 4,  // MQTT 3.1.1
  kV5 = 5,
};

// Set on top of level 3 or 4 by a mosquitto bridge with try_private: "I am a bridge, do
// not send my own messages back to me". Not a version of its own.
inline constexpr uint8_t kBridgeLevelBit = 0x80;

// Which side sent the bytes. Several packets are legal in one direction only, and a
// proxy must refuse a client that speaks like a server (e.g. sends CONNACK or SUBACK).
enum class Direction : uint8_t { kClientToServer, kServerToClient };

enum class PacketType : uint8_t {
  kReserved = 0,
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,  // MQTT 5 only; reserved before
};

std::string_view PacketTypeName(PacketType type);

// MQTT 5 reason codes (spec 2.4). 3.1.1 return codes are mapped from these where needed.
enum class ReasonCode : uint8_t {
  kSuccess = 0x00,  // also Normal disconnection, Granted QoS 0
  kGrantedQos1 = 0x01,
  kGrantedQos2 = 0x02,
  kDisconnectWithWill = 0x04,
  kNoMatchingSubscribers = 0x10,
  kNoSubscriptionExisted = 0x11,
  kContinueAuthentication = 0x18,
  kReAuthenticate = 0x19,
  kUnspecifiedError = 0x80,
  kMalformedPacket = 0x81,
  kProtocolError = 0x82,
  kImplementationSpecificError = 0x83,
  kUnsupportedProtocolVersion = 0x84,
  kClientIdentifierNotValid = 0x85,
  kBadUserNameOrPassword = 0x86,
  kNotAuthorized = 0x87,
  kServerUnavailable = 0x88,
  kServerBusy = 0x89,
  kBanned = 0x8A,
  kServerShuttingDown = 0x8B,
  kBadAuthenticationMethod = 0x8C,
  kKeepAliveTimeout = 0x8D,
  kSessionTakenOver = 0x8E,
  kTopicFilterInvalid = 0x8F,
  kTopicNameInvalid = 0x90,
  kPacketIdentifierInUse = 0x91,
  kPacketIdentifierNotFound = 0x92,
  kReceiveMaximumExceeded = 0x93,
  kTopicAliasInvalid = 0x94,
  kPacketTooLarge = 0x95,
  kMessageRateTooHigh = 0x96,
  kQuotaExceeded = 0x97,
  kAdministrativeAction = 0x98,
  kPayloadFormatInvalid = 0x99,
  kRetainNotSupported = 0x9A,
  kQosNotSupported = 0x9B,
  kUseAnotherServer = 0x9C,
  kServerMoved = 0x9D,
  kSharedSubscriptionsNotSupported = 0x9E,
  kConnectionRateExceeded = 0x9F,
  kMaximumConnectTime = 0xA0,
  kSubscriptionIdentifiersNotSupported = 0xA1,
  kWildcardSubscriptionsNotSupported = 0xA2,
};

// MQTT 3.1 / 3.1.1 CONNACK return codes (3.1.1 table 3.1).
enum class ConnectReturnCode : uint8_t {
  kAccepted = 0,
  kUnacceptableProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadUserNameOrPassword = 4,
  kNotAuthorized = 5,
};

// The largest Remaining Length that four Variable Byte Integer bytes can carry.
inline constexpr uint32_t kMaxRemainingLength = 268'435'455;
// Fixed header (1 type byte + up to 4 length bytes) plus the largest body.
inline constexpr uint32_t kMaxPacketSize = kMaxRemainingLength + 5;

}  // namespace moat::mqtt
