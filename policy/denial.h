// What was asked of moat's policy, and why it said no: one enum each, used alike by the
// policy engine, the data path, the audit log and the metric labels. metrics/metric_table.h
// takes its `action` and `reason` label values from the names here, so a denial reads the
// same in `policy explain`, the audit log and moat_denials_total.
#pragma once

#include <cstdint>
#include <string_view>

namespace moat::policy {

#define MOAT_POLICY_ACTIONS(X) \
  X(kConnect, "connect")       \
  X(kPublish, "publish")       \
  X(kSubscribe, "subscribe")   \
  X(kWill, "will")             \
  X(kDeliver, "deliver")

// Every reason but kNone, in label order. The first six come from the policy; the next
// three are decided at CONNECT, before any rule is asked; the next five are the session
// quotas under `limits`, which no rule decides (rule "default"); the last two are the
// client's rates, set by `limits` or by a policy `limits` entry (rule: its id).
#define MOAT_DENY_REASONS(X)                                                              \
  X(kNoRule, "no_rule")                     /* default deny: nothing grants it */         \
  X(kDenyRule, "deny_rule")                 /* a deny rule matched */                     \
  X(kQosLimit, "qos_limit")                 /* granted, but not at this QoS */            \
  X(kRetainLimit, "retain_limit")           /* granted, but not with retain */            \
  X(kPayloadLimit, "payload_limit")         /* granted, but not this big: max_payload */  \
  X(kPayloadFormat, "payload_format")       /* granted, but not this payload: payload: */ \
  X(kNotAuthenticated, "not_authenticated") /* anonymous, allow_anonymous false */        \
  X(kBadCredentials, "bad_credentials")     /* unknown user or wrong password */          \
  X(kBanned, "banned")                                                                    \
  X(kTopicLength, "topic_length")             /* limits.max_topic_length */               \
  X(kTopicLevels, "topic_levels")             /* limits.max_topic_levels */               \
  X(kSubscriptionLimit, "subscription_limit") /* limits.max_subscriptions */              \
  X(kSubscribeFilters, "subscribe_filters")   /* limits.max_filters_per_subscribe */      \
  X(kInflightLimit, "inflight_limit")         /* limits.max_inflight */                   \
  X(kMessageRate, "message_rate")             /* limits.messages_per_second */            \
  X(kByteRate, "byte_rate")                   /* limits.bytes_per_second */

#define MOAT_POLICY_ENUMERATOR(id, name) id,
enum class Action : uint8_t { MOAT_POLICY_ACTIONS(MOAT_POLICY_ENUMERATOR) };
enum class DenyReason : uint8_t { kNone, MOAT_DENY_REASONS(MOAT_POLICY_ENUMERATOR) };
#undef MOAT_POLICY_ENUMERATOR

#define MOAT_POLICY_NAME_CASE(Enum, id, name) \
  case Enum::id:                              \
    return name;

constexpr std::string_view ActionName(Action action) {
#define MOAT_POLICY_ACTION_CASE(id, name) MOAT_POLICY_NAME_CASE(Action, id, name)
  switch (action) { MOAT_POLICY_ACTIONS(MOAT_POLICY_ACTION_CASE) }
#undef MOAT_POLICY_ACTION_CASE
  return "unknown";
}

constexpr std::string_view DenyReasonName(DenyReason reason) {
#define MOAT_POLICY_REASON_CASE(id, name) MOAT_POLICY_NAME_CASE(DenyReason, id, name)
  switch (reason) {
    case DenyReason::kNone:
      return "none";
      MOAT_DENY_REASONS(MOAT_POLICY_REASON_CASE)
  }
#undef MOAT_POLICY_REASON_CASE
  return "unknown";
}

#undef MOAT_POLICY_NAME_CASE

}  // namespace moat::policy
