// Syntax of Topic Names and Topic Filters (spec 4.7) and of shared subscriptions (4.8.2).
// Only syntax: which topics a filter matches is the policy's business.
#pragma once

#include <optional>
#include <string_view>

#include "proxy/mqtt/decode_error.h"

namespace moat::mqtt {

// A non-empty topic name without '+' or '#' [MQTT-3.3.2-2, MQTT-4.7.3-1].
// Returns kNone, kEmptyTopicName or kInvalidTopicName. UTF-8 is checked by the reader.
DecodeError ValidateTopicName(std::string_view topic);

// A topic filter: '#' only as the whole last level, '+' only as a whole level
// [MQTT-4.7.1-1, -2]; a "$share/" prefix must name a group and be followed by a
// filter [MQTT-4.8.2-1, -2]. Returns kNone, kInvalidTopicFilter or
// kInvalidSharedSubscription.
DecodeError ValidateTopicFilter(std::string_view filter);

struct SharedSubscription {
  std::string_view share_name;
  std::string_view filter;  // what the subscription really matches
};

// Splits "$share/{ShareName}/{filter}"; nullopt for a filter that is not shared.
// Call only on a filter ValidateTopicFilter accepted.
std::optional<SharedSubscription> ParseSharedSubscription(std::string_view filter);

}  // namespace moat::mqtt
