// Every way a byte stream can fail to be MQTT. Each value is precise enough to be a
// metric label and maps to exactly one MQTT 5 reason code, so the session can answer
// with a DISCONNECT (or CONNACK) that tells the peer what was wrong.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/mqtt/types.h"

namespace moat::mqtt {

enum class DecodeError : uint8_t {
  kNone = 0,
  // Framing.
  kRemainingLengthTooLong,   // a fifth Variable Byte Integer byte [MQTT-1.5.5]
  kNonMinimalVarInt,         // MQTT 5 forbids padding a Variable Byte Integer [MQTT-1.5.5-1]
  kPacketTooLarge,           // over the configured maximum, seen from the fixed header
  kReservedPacketType,       // type 0, or AUTH (15) before MQTT 5
  kInvalidFixedHeaderFlags,  // reserved flag bits not as the spec fixes them [MQTT-2.1.3-1]
  kTruncated,                // a field runs past the Remaining Length
  kTrailingBytes,            // bytes left after the last field of a fixed-size packet
  // Sequencing and direction.
  kPacketBeforeConnect,  // [MQTT-3.1.0-1]
  kSecondConnect,        // [MQTT-3.1.0-2]
  kWrongDirection,       // e.g. a client sending CONNACK, a server sending SUBSCRIBE
  // Fields.
  kInvalidQos,                   // QoS 3 [MQTT-3.3.1-4]
  kDupWithQos0,                  // [MQTT-3.3.1-2]
  kZeroPacketId,                 // packet identifiers are non-zero [MQTT-2.2.1-3]
  kInvalidUtf8,                  // ill-formed, overlong, surrogate, U+0000 or control character
  kInvalidTopicName,             // wildcard in a topic name [MQTT-3.3.2-2]
  kEmptyTopicName,               // zero length without a Topic Alias [MQTT-4.7.3-1]
  kInvalidTopicFilter,           // misplaced '#' or '+', or empty [MQTT-4.7.1]
  kInvalidSharedSubscription,    // bad $share/{ShareName}/{filter} [MQTT-4.8.2-1, -2]
  kNoLocalOnSharedSubscription,  // [MQTT-3.8.3-4]
  kInvalidSubscriptionOptions,   // reserved option bits set [MQTT-3.8.3-5]
  kInvalidRetainHandling,        // retain handling 3
  kEmptySubscribe,               // no topic filter [MQTT-3.8.3-3]
  kEmptyUnsubscribe,             // no topic filter [MQTT-3.10.3-2]
  kInvalidReasonCode,            // a reason code the packet type does not define
  // CONNECT and CONNACK.
  kInvalidProtocolName,
  kUnsupportedProtocolVersion,
  kConnectReservedFlag,      // [MQTT-3.1.2-3]
  kInvalidWillFlags,         // will QoS/retain without will, or will QoS 3 [MQTT-3.1.2-11..14]
  kPasswordWithoutUsername,  // MQTT 3.1 and 3.1.1 only [MQTT-3.1.2-22]
  kInvalidConnackFlags,      // reserved bits, or session present with a refusal
  // MQTT 5 properties.
  kUnknownProperty,
  kPropertyNotAllowed,        // a valid property in the wrong packet [spec 2.2.2.2]
  kDuplicateProperty,         // only User Property and (server) Subscription Identifier repeat
  kInvalidPropertyValue,      // e.g. Receive Maximum 0, Payload Format Indicator 2
  kAuthDataWithoutMethod,     // [MQTT-3.1.2.11.10]
  kSubscriptionIdFromClient,  // [MQTT-3.3.4-6]
  kInvalidTopicAlias,         // Topic Alias 0 [MQTT-3.3.2-8]
};

// The MQTT 5 reason code a DISCONNECT (or CONNACK) should carry for this error.
ReasonCode ReasonCodeFor(DecodeError error);

// A stable snake_case name, used as a metric label value and in logs.
std::string_view DecodeErrorName(DecodeError error);

}  // namespace moat::mqtt
