// limits.max_topic_length and limits.max_topic_levels, asked of every PUBLISH topic, Will
// topic and SUBSCRIBE/UNSUBSCRIBE filter before the policy is: a client cannot make moat,
// the decision cache or the broker hold or walk more than an operator allowed.
#pragma once

#include <algorithm>
#include <string_view>

#include "policy/authorizer.h"
#include "policy/denial.h"
#include "proxy/config/config.h"

namespace moat::proxy {

// kNone, kTopicLength or kTopicLevels. O(1) for nearly every topic: n levels take n - 1
// '/', so only a topic at least max_topic_levels bytes long can have too many, and only
// such a topic is scanned.
inline policy::DenyReason TopicQuotaExceeded(std::string_view topic,
                                             const config::SessionQuotas& quotas) {
  if (topic.size() > quotas.max_topic_length) return policy::DenyReason::kTopicLength;
  if (topic.size() >= quotas.max_topic_levels &&
      static_cast<size_t>(std::count(topic.begin(), topic.end(), '/')) >= quotas.max_topic_levels) {
    return policy::DenyReason::kTopicLevels;
  }
  return policy::DenyReason::kNone;
}

// A refusal by a session quota: no rule decides it.
inline policy::Decision QuotaDecision(policy::DenyReason reason) {
  policy::Decision decision;
  decision.reason = reason;
  return decision;
}

}  // namespace moat::proxy
