#include "proxy/mqtt/decode_error.h"

namespace moat::mqtt {

ReasonCode ReasonCodeFor(DecodeError error) {
  switch (error) {
    case DecodeError::kNone:
      return ReasonCode::kSuccess;
    case DecodeError::kPacketTooLarge:
      return ReasonCode::kPacketTooLarge;
    case DecodeError::kInvalidProtocolName:
    case DecodeError::kUnsupportedProtocolVersion:
      return ReasonCode::kUnsupportedProtocolVersion;
    case DecodeError::kInvalidTopicFilter:
    case DecodeError::kInvalidSharedSubscription:
      return ReasonCode::kTopicFilterInvalid;
    case DecodeError::kInvalidTopicAlias:
      return ReasonCode::kTopicAliasInvalid;
    case DecodeError::kPacketBeforeConnect:
    case DecodeError::kSecondConnect:
    case DecodeError::kWrongDirection:
    case DecodeError::kEmptyTopicName:
    case DecodeError::kNoLocalOnSharedSubscription:
    case DecodeError::kInvalidRetainHandling:
    case DecodeError::kEmptySubscribe:
    case DecodeError::kEmptyUnsubscribe:
    case DecodeError::kInvalidReasonCode:
    case DecodeError::kDuplicateProperty:
    case DecodeError::kInvalidPropertyValue:
    case DecodeError::kAuthDataWithoutMethod:
    case DecodeError::kSubscriptionIdFromClient:
      return ReasonCode::kProtocolError;
    case DecodeError::kRemainingLengthTooLong:
    case DecodeError::kNonMinimalVarInt:
    case DecodeError::kReservedPacketType:
    case DecodeError::kInvalidFixedHeaderFlags:
    case DecodeError::kTruncated:
    case DecodeError::kTrailingBytes:
    case DecodeError::kInvalidQos:
    case DecodeError::kDupWithQos0:
    case DecodeError::kZeroPacketId:
    case DecodeError::kInvalidUtf8:
    case DecodeError::kInvalidTopicName:
    case DecodeError::kInvalidSubscriptionOptions:
    case DecodeError::kConnectReservedFlag:
    case DecodeError::kInvalidWillFlags:
    case DecodeError::kPasswordWithoutUsername:
    case DecodeError::kInvalidConnackFlags:
    case DecodeError::kUnknownProperty:
    case DecodeError::kPropertyNotAllowed:
      return ReasonCode::kMalformedPacket;
  }
  return ReasonCode::kMalformedPacket;
}

std::string_view DecodeErrorName(DecodeError error) {
  switch (error) {
    case DecodeError::kNone:
      return "none";
    case DecodeError::kRemainingLengthTooLong:
      return "remaining_length_too_long";
    case DecodeError::kNonMinimalVarInt:
      return "non_minimal_varint";
    case DecodeError::kPacketTooLarge:
      return "packet_too_large";
    case DecodeError::kReservedPacketType:
      return "reserved_packet_type";
    case DecodeError::kInvalidFixedHeaderFlags:
      return "invalid_fixed_header_flags";
    case DecodeError::kTruncated:
      return "truncated";
    case DecodeError::kTrailingBytes:
      return "trailing_bytes";
    case DecodeError::kPacketBeforeConnect:
      return "packet_before_connect";
    case DecodeError::kSecondConnect:
      return "second_connect";
    case DecodeError::kWrongDirection:
      return "wrong_direction";
    case DecodeError::kInvalidQos:
      return "invalid_qos";
    case DecodeError::kDupWithQos0:
      return "dup_with_qos0";
    case DecodeError::kZeroPacketId:
      return "zero_packet_id";
    case DecodeError::kInvalidUtf8:
      return "invalid_utf8";
    case DecodeError::kInvalidTopicName:
      return "invalid_topic_name";
    case DecodeError::kEmptyTopicName:
      return "empty_topic_name";
    case DecodeError::kInvalidTopicFilter:
      return "invalid_topic_filter";
    case DecodeError::kInvalidSharedSubscription:
      return "invalid_shared_subscription";
    case DecodeError::kNoLocalOnSharedSubscription:
      return "no_local_on_shared_subscription";
    case DecodeError::kInvalidSubscriptionOptions:
      return "invalid_subscription_options";
    case DecodeError::kInvalidRetainHandling:
      return "invalid_retain_handling";
    case DecodeError::kEmptySubscribe:
      return "empty_subscribe";
    case DecodeError::kEmptyUnsubscribe:
      return "empty_unsubscribe";
    case DecodeError::kInvalidReasonCode:
      return "invalid_reason_code";
    case DecodeError::kInvalidProtocolName:
      return "invalid_protocol_name";
    case DecodeError::kUnsupportedProtocolVersion:
      return "unsupported_protocol_version";
    case DecodeError::kConnectReservedFlag:
      return "connect_reserved_flag";
    case DecodeError::kInvalidWillFlags:
      return "invalid_will_flags";
    case DecodeError::kPasswordWithoutUsername:
      return "password_without_username";
    case DecodeError::kInvalidConnackFlags:
      return "invalid_connack_flags";
    case DecodeError::kUnknownProperty:
      return "unknown_property";
    case DecodeError::kPropertyNotAllowed:
      return "property_not_allowed";
    case DecodeError::kDuplicateProperty:
      return "duplicate_property";
    case DecodeError::kInvalidPropertyValue:
      return "invalid_property_value";
    case DecodeError::kAuthDataWithoutMethod:
      return "auth_data_without_method";
    case DecodeError::kSubscriptionIdFromClient:
      return "subscription_id_from_client";
    case DecodeError::kInvalidTopicAlias:
      return "invalid_topic_alias";
  }
  return "unknown";
}

}  // namespace moat::mqtt
