// AclPolicy's internals shared by its decision files (acl_policy.cc, acl_subscribe.cc):
// the sink that picks a decision from what a walk finds. Not for other callers.
#pragma once

#include <cstdint>
#include <string_view>

#include "policy/acl/acl_policy.h"

namespace moat::policy {

inline constexpr uint32_t kNilRule = RuleTrie::kNil;

inline Decision DenyBy(DenyReason reason, std::string_view rule, uint16_t label) {
  Decision decision;
  decision.reason = reason;
  decision.rule = rule;
  decision.rule_label = label;
  return decision;
}

// Collects what a walk finds and picks the decision by the precedence in acl_policy.h:
// an enforcing deny wins, then a grant (reported as audit if an audit-mode deny applies),
// then a grant that failed only on QoS or retain (which names the limit that refused).
// The lowest-numbered rule of each kind names the decision.
class AclPolicy::Verdicts final : public RuleSink {
 public:
  Verdicts(const AclPolicy& policy, const ClientIdentity& client, uint8_t qos, bool retain)
      : policy_(policy), client_(client), qos_(qos), retain_(retain) {}

  void Found(uint32_t index, bool deny, bool plain, uint16_t label, uint64_t tag) override {
    // The walk has already matched the action; a plain rule (enforcing, no conditions, no
    // limits) is decided without looking it up, and named from its tag.
    bool audit = false;
    uint32_t payload = kNoPayloadLimit;
    auto format = PayloadFormat::kAny;
    if (!plain) {
      const Rule& rule = policy_.rules_[index];
      if (rule.conditions != kNilRule &&
          !policy_.conditions_[rule.conditions].Matches(client_, deny)) {
        return;
      }
      audit = rule.audit;
      if (!deny && qos_ > rule.max_qos) return Limited(index, DenyReason::kQosLimit, audit);
      if (!deny && retain_ && !rule.allow_retain) {
        return Limited(index, DenyReason::kRetainLimit, audit);
      }
      if (!deny && rule.payload_limit) payload = policy_.max_payloads_.at(index);
      format = static_cast<PayloadFormat>(rule.payload_format);
    }
    if (!deny) {
      Payload(payload, audit, {index, label, tag});
      Format(format, audit, {index, label, tag});
    }
    Best& best = !deny ? allow_ : audit ? audit_deny_ : deny_;
    if (index < best.index) best = {index, label, tag};
  }

  // An enforcing deny applies: nothing found later can change the answer.
  bool denied() const { return deny_.index != kNilRule; }
  bool audit_denied() const { return audit_deny_.index != kNilRule; }
  // The lowest-numbered enforcing (or audit-mode) deny found, as the Decision it makes;
  // a Decision naming no rule if there is none.
  Decision EnforcingDeny() const { return Named(deny_); }
  Decision AuditDeny() const { return Named(audit_deny_); }
  uint32_t enforcing_deny_index() const { return deny_.index; }
  uint32_t audit_deny_index() const { return audit_deny_.index; }

  Decision Result() const {
    if (deny_.index != kNilRule) {
      return DenyBy(DenyReason::kDenyRule, policy_.Source(deny_.tag), deny_.label);
    }
    const bool granted = allow_.index != kNilRule || audit_limited_.index != kNilRule;
    if (granted && audit_deny_.index != kNilRule) {
      return WithPayload({Verdict::kAllow, DenyReason::kDenyRule, policy_.Source(audit_deny_.tag),
                          true, audit_deny_.label});
    }
    if (allow_.index != kNilRule) {
      return WithPayload({Verdict::kAllow, DenyReason::kNone, policy_.Source(allow_.tag)});
    }
    if (audit_limited_.index != kNilRule) {
      return Audited(audit_limited_.reason, audit_limited_.index,
                     policy_.rules_[audit_limited_.index].source);
    }
    if (limited_.index != kNilRule) {
      return DenyBy(limited_.reason, policy_.rules_[limited_.index].source, Label(limited_.index));
    }
    return DenyBy(DenyReason::kNoRule, {}, RuleLabels::kDefault);
  }

 private:
  // The label travels with the trie's reference, so naming a deny reads no rule record
  // (a cache miss per decision with a million rules).
  struct Best {
    uint32_t index = kNilRule;
    uint16_t label = RuleLabels::kDefault;
    uint64_t tag = 0;
  };
  struct Limit {
    uint32_t index = kNilRule;
    DenyReason reason = DenyReason::kNoRule;
  };

  // An allow rule that grants the request up to `limit` payload bytes. The most generous
  // grant decides how much may pass (the lowest-numbered of equals names it); an
  // audit-mode limit among the grants lets more through, reported.
  void Payload(uint32_t limit, bool audit, const Best& rule) {
    if (payload_.index == kNilRule || limit > payload_limit_ ||
        (limit == payload_limit_ && rule.index < payload_.index)) {
      payload_limit_ = limit;
      payload_ = rule;
    }
    if (audit && limit != kNoPayloadLimit && rule.index < payload_audit_.index) {
      payload_audit_ = rule;
    }
  }

  // An allow rule that grants the request if its payload is `format`. One grant without
  // a format lets any payload through; else every grant has one, so the lowest-numbered
  // grant, which names the decision, names the format too; an audit-mode one among them
  // lets a wrong payload through, reported.
  void Format(PayloadFormat format, bool audit, const Best& rule) {
    if (format == PayloadFormat::kAny) {
      unchecked_grant_ = true;
      return;
    }
    if (rule.index < format_.index) {
      format_ = rule;
      format_value_ = format;
    }
    format_audit_ |= audit;
  }

  Decision WithPayload(Decision decision) const {
    if (!unchecked_grant_ && format_.index != kNilRule) {
      decision.payload_format = format_value_;
      decision.format_audit = format_audit_;
      decision.format_label = format_.label;
    }
    if (payload_.index == kNilRule || payload_limit_ == kNoPayloadLimit) return decision;
    const Best& named = payload_audit_.index != kNilRule ? payload_audit_ : payload_;
    decision.max_payload = payload_limit_;
    decision.payload_audit = payload_audit_.index != kNilRule;
    decision.payload_rule = policy_.Source(named.tag);
    decision.payload_label = named.label;
    return decision;
  }

  void Limited(uint32_t index, DenyReason reason, bool audit) {
    Limit& limit = audit ? audit_limited_ : limited_;
    if (index < limit.index) limit = {index, reason};
  }

  uint16_t Label(uint32_t index) const { return policy_.rules_[index].label; }

  Decision Named(const Best& best) const {
    if (best.index == kNilRule) return {};
    return DenyBy(DenyReason::kDenyRule, policy_.Source(best.tag), best.label);
  }

  Decision Audited(DenyReason reason, uint32_t index, std::string_view rule) const {
    return {Verdict::kAllow, reason, rule, true, Label(index)};
  }

  const AclPolicy& policy_;
  const ClientIdentity& client_;
  const uint8_t qos_;
  const bool retain_;
  Best deny_;
  Best audit_deny_;
  Best allow_;
  Best payload_;  // the grant with the largest max_payload
  uint32_t payload_limit_ = 0;
  Best payload_audit_;            // the lowest-numbered audit-mode grant with a max_payload
  bool unchecked_grant_ = false;  // a grant that requires no payload format
  Best format_;                   // the lowest-numbered grant with a payload format
  PayloadFormat format_value_ = PayloadFormat::kAny;
  bool format_audit_ = false;  // an audit-mode grant with a payload format
  Limit limited_;
  Limit audit_limited_;
};

}  // namespace moat::policy
