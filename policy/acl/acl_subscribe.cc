// SUBSCRIBE decisions (the precedence is in acl_policy.h). The default grants a filter
// that can deliver something: a read rule shares a topic with it and no deny covers what
// they share. Deliveries are checked one by one anyway, so granting more never leaks; it
// only keeps a dashboard on "plant/#" working when "plant/safety/#" is denied.
#include <algorithm>

#include "policy/acl/acl_policy.h"
#include "policy/acl/acl_verdicts.h"

namespace moat::policy {

// Receives the read rules that share topics with the requested filter. A rule whose shared
// part a deny covers grants nothing (the lowest such deny names a refusal when nothing
// else grants). The grant is at the lowest QoS any granting rule allows, as deliveries are
// not re-graded: each topic it brings stays within its rule's limit. Without such limits in
// the policy the first grant decides, so a SUBSCRIBE "#" does not walk every rule.
class AclPolicy::Overlaps final : public OverlapSink {
 public:
  // `audit_denies_withhold`: count audit-mode denies as enforcing, to learn what the
  // enforcing policy would refuse.
  Overlaps(const AclPolicy& policy, const ClientIdentity& client, const RuleTrie::Span* roots,
           int root_count, uint8_t qos, bool audit_denies_withhold)
      : policy_(policy),
        client_(client),
        roots_(roots),
        root_count_(root_count),
        requested_qos_(qos),
        qos_(qos),
        audit_denies_withhold_(audit_denies_withhold) {}

  bool Found(uint32_t index, bool plain, uint16_t label, uint64_t tag,
             const Levels& shared) override {
    uint8_t rule_qos = requested_qos_;
    bool audit_limit = false;
    if (!plain) {
      const Rule& rule = policy_.rules_[index];
      if (rule.conditions != kNilRule &&
          !policy_.conditions_[rule.conditions].Matches(client_, /*deny=*/false)) {
        return true;
      }
      // An audit-mode limit grants what it would cap, and says so.
      if (requested_qos_ > rule.max_qos) {
        if (rule.audit) {
          audit_limit = true;
        } else {
          rule_qos = rule.max_qos;
        }
      }
    }
    if (Withheld(shared)) return true;
    if (granted_index_ == kNilRule || index < granted_index_) {
      granted_index_ = index;
      granted_label_ = label;
      granted_tag_ = tag;
    }
    qos_ = std::min(qos_, rule_qos);
    audit_limit_ = audit_limit_ || audit_limit;
    return policy_.read_limits_ && qos_ > 0;
  }

  Decision Result() const {
    if (granted_index_ == kNilRule) {
      return withheld_index_ != kNilRule ? withheld_
                                         : DenyBy(DenyReason::kNoRule, {}, RuleLabels::kDefault);
    }
    Decision decision;
    decision.verdict = Verdict::kAllow;
    decision.rule = policy_.Source(granted_tag_);
    decision.rule_label = granted_label_;
    decision.reason = audit_limit_ ? DenyReason::kQosLimit : DenyReason::kNone;
    decision.audit = audit_limit_;
    decision.max_qos = qos_;
    return decision;
  }

 private:
  // A deny rule covers all a read rule shares with the filter: that rule delivers nothing.
  bool Withheld(const Levels& shared) {
    const TrieQuery query(shared, kActionRead, client_.username, client_.client_id);
    Verdicts covering(policy_, client_, 0, false);
    for (int r = 0; r < root_count_; ++r) {
      policy_.trie_.CoverFilterByDeny(roots_[r], query, covering);
    }
    const bool enforcing = covering.denied();
    if (!enforcing && !(audit_denies_withhold_ && covering.audit_denied())) return false;
    const uint32_t index =
        enforcing ? covering.enforcing_deny_index() : covering.audit_deny_index();
    if (index < withheld_index_) {
      withheld_index_ = index;
      withheld_ = enforcing ? covering.EnforcingDeny() : covering.AuditDeny();
    }
    return true;
  }

  const AclPolicy& policy_;
  const ClientIdentity& client_;
  const RuleTrie::Span* const roots_;
  const int root_count_;
  const uint8_t requested_qos_;
  uint8_t qos_;
  const bool audit_denies_withhold_;
  // The lowest-numbered granting rule names the grant.
  uint32_t granted_index_ = kNilRule;
  uint16_t granted_label_ = RuleLabels::kDefault;
  uint64_t granted_tag_ = 0;
  bool audit_limit_ = false;
  // The lowest-numbered deny that withheld a sharing rule: it names a refusal.
  uint32_t withheld_index_ = kNilRule;
  Decision withheld_;
};

Decision AclPolicy::MaySubscribe(const ClientIdentity& client, std::string_view filter,
                                 uint8_t qos) const {
  const std::string_view inner = InnerFilter(filter);
  if (!IsValidFilter(inner)) return DenyBy(DenyReason::kNoRule, {}, RuleLabels::kDefault);
  Levels levels;
  SplitLevels(inner, levels);
  return subscription_grant_ == SubscriptionGrant::kAnyReadable
             ? SubscribeAnyReadable(client, levels, qos)
             : SubscribeAllReadable(client, levels, qos);
}

Decision AclPolicy::SubscribeAnyReadable(const ClientIdentity& client, const Levels& filter,
                                         uint8_t qos) const {
  const TrieQuery query(filter, kActionRead, client.username, client.client_id);
  const RootList roots = Roots(client);
  // Each root's walk stops when the sink has seen enough, and so do the later roots.
  const auto granted = [&](bool audit_denies_withhold) {
    Overlaps grants(*this, client, roots.data(), static_cast<int>(roots.size()), qos,
                    audit_denies_withhold);
    for (size_t r = 0; r < roots.size() && trie_.OverlapFilter(roots[r], query, grants); ++r) {
    }
    return grants.Result();
  };
  Decision decision = granted(/*audit_denies_withhold=*/false);
  if (!decision.allowed()) return decision;

  // Partial: a deny shares a topic with the filter, or no read rule covers all of it. Both
  // walks follow the filter's own path, so they stay cheap.
  Verdicts inside(*this, client, qos, false);
  for (const RuleTrie::Span& root : roots) trie_.IntersectFilter(root, query, inside);
  Verdicts cover(*this, client, 0, false);
  for (const RuleTrie::Span& root : roots) trie_.CoverFilter(root, query, cover);
  decision.partial = inside.denied() || !cover.Result().allowed();
  if (!inside.audit_denied()) return decision;

  // An audit-mode deny inside: would the enforcing policy refuse the filter?
  if (granted(/*audit_denies_withhold=*/true).allowed()) return decision;
  const Decision audit_deny = inside.AuditDeny();
  decision.reason = DenyReason::kDenyRule;
  decision.rule = audit_deny.rule;
  decision.rule_label = audit_deny.rule_label;
  decision.audit = true;
  return decision;
}

Decision AclPolicy::SubscribeAllReadable(const ClientIdentity& client, const Levels& filter,
                                         uint8_t qos) const {
  const TrieQuery query(filter, kActionRead, client.username, client.client_id);
  Verdicts verdicts(*this, client, qos, false);
  const RootList roots = Roots(client);
  // Deny pass first: an enforcing deny rule anywhere inside the filter refuses the whole
  // SUBSCRIBE. An audit-mode one only marks a SUBSCRIBE the cover pass grants as audit.
  for (const RuleTrie::Span& root : roots) trie_.IntersectFilter(root, query, verdicts);
  if (verdicts.denied()) return verdicts.Result();
  for (const RuleTrie::Span& root : roots) trie_.CoverFilter(root, query, verdicts);
  Decision decision = verdicts.Result();
  if (decision.allowed()) decision.max_qos = qos;
  return decision;
}

Decision AclPolicy::DenyInside(const ClientIdentity& client, std::string_view filter) const {
  const std::string_view inner = InnerFilter(filter);
  if (!IsValidFilter(inner)) return {};
  Levels levels;
  SplitLevels(inner, levels);
  const TrieQuery query(levels, kActionRead, client.username, client.client_id);
  Verdicts inside(*this, client, 0, false);
  const RootList roots = Roots(client);
  for (const RuleTrie::Span& root : roots) trie_.IntersectFilter(root, query, inside);
  return inside.EnforcingDeny();
}

}  // namespace moat::policy
