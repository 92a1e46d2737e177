// The ACL engine: an immutable Authorizer built from mosquitto acl_file rules, native
// policy rules, or both.
//
// Precedence is explicit code, never list order: first every deny rule that applies is
// looked for, then the allow rules; a deny in either source wins, an allow in either
// grants, and what nothing grants is denied (kNoRule). Each decision names the deciding
// rule (the lowest-numbered one when several apply, acl_file lines before native rules):
// "FILE:LINE" for an acl_file line, the id for a native rule.
//
// A native rule in audit mode (`mode: audit`) reports instead of refusing, and never
// weakens a rule that enforces:
//   1. an enforcing deny that applies denies (kDenyRule), whatever audit rules say;
//   2. if something grants the request (an allow rule, or an audit-mode allow rule whose
//      limit it exceeds), an audit-mode deny that applies makes it an allow marked
//      `audit`, naming that deny; without one, an allow rule names the allow, and an
//      audit-mode limit alone names itself (allow, audit, kQosLimit / kRetainLimit);
//   3. else an enforcing limit denies (kQosLimit / kRetainLimit), else the default deny
//      (kNoRule), which no audit rule changes.
// max_payload is not known until the packet is: a PUBLISH decision carries the largest
// max_payload of the rules that grant it (Decision::max_payload), and the data path
// refuses a larger payload (kPayloadLimit), or reports it when an audit-mode rule grants.
// A rule's `payload:` format travels the same way (Decision::payload_format): checked only
// when every grant requires one, refused as kPayloadFormat.
// Audit rules are marked non-plain in the trie, so the walk stays as it is and only the
// few audit rules are looked up.
//
//   PUBLISH / Will    the topic must be matched by a rule granting publish (write)
//   delivery          the topic must be matched by a rule granting read
//   SUBSCRIBE         SubscriptionGrant::kAnyReadable (the default): granted when a read
//                     rule shares a topic with the (inner) filter and no deny rule covers
//                     what they share (acl_subscribe.cc); at the highest QoS such a rule
//                     allows; `partial` when a deny rule shares a topic with the filter or
//                     no read rule covers it. What may not be read is withheld at delivery.
//                     mosquitto 2.0 grants every SUBSCRIBE; moat refuses a filter that
//                     could never deliver anything.
//                     kAllReadable: granted only if everything the filter can match may
//                     be read: one read rule must cover it (FilterCovers) and no deny rule
//                     may share a topic with it (FiltersIntersect).
//
// Rules are indexed at load in one RuleTrie: a root per user name, one for anonymous
// clients, one for rules that apply to everyone (acl `pattern` lines, native rules not
// tied to user names). A decision walks at most three roots, so it costs O(topic levels),
// not O(rules).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/conditions.h"
#include "policy/acl/rate_table.h"
#include "policy/acl/rule_trie.h"
#include "policy/acl/user_index.h"
#include "policy/authorizer.h"
#include "policy/rule_labels.h"

namespace moat::policy {

inline constexpr uint8_t kActionPublish = 1;  // PUBLISH and Will (acl "write")
inline constexpr uint8_t kActionRead = 2;     // SUBSCRIBE and delivery (acl "read")

// One rule as the sources hand it to the engine.
struct RuleSpec {
  std::string source;    // Decision::rule: "FILE:LINE" or a native rule id
  std::string location;  // "FILE:LINE" of a native rule (`policy explain`); else empty
  uint16_t label = RuleLabels::kDefault;  // Decision::rule_label when this rule decides
  bool deny = false;
  bool audit = false;  // mode: audit: report what it would refuse, refuse nothing
  uint8_t actions = kActionPublish | kActionRead;
  uint8_t max_qos = 2;       // allow rules: granted only up to this QoS
  bool allow_retain = true;  // allow rules: false grants PUBLISH only without retain
  // allow rules: the largest PUBLISH payload granted (Decision::max_payload)
  uint32_t max_payload = kNoPayloadLimit;
  // allow rules: what a granted PUBLISH payload must be (Decision::payload_format)
  PayloadFormat payload_format = PayloadFormat::kAny;
  std::vector<std::string> filters;  // each passes RuleFilterProblem()
  bool placeholders = false;         // "%u"/"%c" in filters stand for the identities
  // Who it is for: everyone, or the named users and/or anonymous clients.
  bool everyone = false;
  bool anonymous = false;
  std::vector<std::string> users;
  // Native groups it names (their members are in `users` too): a client a token puts in
  // one of them (ClientIdentity::groups) gets the rule as well.
  std::vector<std::string> groups;
  ClientConditions conditions;
};

class AclPolicy final : public Authorizer {
 public:
  class Builder {
   public:
    Builder();
    // Rules are numbered in the order added; the lowest number names a decision.
    void Add(const RuleSpec& spec);
    void SetSubscriptionGrant(SubscriptionGrant grant) { policy_->subscription_grant_ = grant; }
    // A native `limits` entry; `location` is its "FILE:LINE" for `policy explain`.
    void AddRateLimit(RateLimitSpec spec, std::string location);
    std::shared_ptr<const AclPolicy> Build(uint64_t version) &&;

   private:
    uint32_t UserRoot(const std::string& user);
    uint32_t GroupRoot(const std::string& group);
    std::unique_ptr<AclPolicy> policy_;
    absl::flat_hash_map<std::string, uint32_t> user_roots_;
    absl::flat_hash_map<std::string, uint32_t> group_roots_;
    uint32_t anonymous_root_ = 0;  // root numbers while building; the policy keeps spans
    uint32_t everyone_root_ = 0;
  };

  Decision AuthorizeConnect(const ClientIdentity& client) const override;
  Decision MayPublish(const ClientIdentity& client, std::string_view topic, uint8_t qos,
                      bool retain) const override;
  Decision MaySubscribe(const ClientIdentity& client, std::string_view filter,
                        uint8_t qos) const override;
  Decision MayReceive(const ClientIdentity& client, std::string_view topic) const override;
  Decision DenyInside(const ClientIdentity& client, std::string_view filter) const override;
  RateOverrides RatesFor(const ClientIdentity& client) const override { return rates_.For(client); }
  bool NamesIdentity(const ClientIdentity& client) const override;
  uint64_t version() const override { return version_; }
  std::string_view RuleLocation(std::string_view rule) const override;

  size_t rule_count() const { return rules_.size(); }
  size_t node_count() const { return trie_.node_count(); }

 private:
  // Looked up only for rules that are not plain. Effect and actions live in the trie.
  // 24 bytes: a million rules are common enough that this is worth keeping small.
  struct Rule {
    std::string_view source;               // into sources_ (set in Build())
    uint32_t conditions = RuleTrie::kNil;  // into conditions_
    uint16_t label = RuleLabels::kDefault;
    uint8_t max_qos = 2;
    bool allow_retain : 1 = true;
    bool audit : 1 = false;
    bool payload_limit : 1 = false;  // its max_payload is in max_payloads_
    uint8_t payload_format : 2 = 0;  // its PayloadFormat
  };
  static_assert(sizeof(Rule) <= 24);
  class Verdicts;
  class Overlaps;

  AclPolicy() = default;
  // The roots that apply to `client`: everyone's, its user's (or the anonymous one) and
  // those of the groups a token gave it.
  using RootList = absl::InlinedVector<RuleTrie::Span, 3>;
  RootList Roots(const ClientIdentity& client) const;
  // The same roots one by one, for the per-message decisions: no list is built, and a
  // client without token groups pays nothing for them.
  template <typename Visit>
  void ForEachRoot(const ClientIdentity& client, Visit&& visit) const {
    visit(everyone_);
    if (const uint64_t user = UserRoot(client); user != UserIndex::kNone) {
      visit(RuleTrie::Span::Unpack(user));
    }
    for (const std::string& group : client.groups) {
      if (const uint64_t span = group_roots_.Find(group); span != UserIndex::kNone) {
        visit(RuleTrie::Span::Unpack(span));
      }
    }
  }
  // The client's user root (or the anonymous one), packed; kNone when it has none.
  uint64_t UserRoot(const ClientIdentity& client) const;
  Decision Match(const ClientIdentity& client, std::string_view topic, uint8_t action, uint8_t qos,
                 bool retain) const;
  // MaySubscribe() by SubscriptionGrant, on a valid inner filter already split.
  Decision SubscribeAnyReadable(const ClientIdentity& client, const Levels& filter,
                                uint8_t qos) const;
  Decision SubscribeAllReadable(const ClientIdentity& client, const Levels& filter,
                                uint8_t qos) const;

  // A rule's name from its tag: offset << 32 | size in sources_.
  std::string_view Source(uint64_t tag) const {
    return std::string_view(sources_).substr(tag >> 32, static_cast<uint32_t>(tag));
  }

  RuleTrie trie_;
  std::vector<Rule> rules_;
  std::vector<ClientConditions> conditions_;
  // Rule index -> max_payload, for the few rules that have one: Rule stays 24 bytes.
  absl::flat_hash_map<uint32_t, uint32_t> max_payloads_;
  std::string sources_;  // every rule's name, back to back
  // Native rule id -> "FILE:LINE"; only `policy explain` asks, so it is off the hot path.
  absl::flat_hash_map<std::string, std::string> locations_;
  std::vector<uint64_t> tags_;  // while building: each rule's tag
  UserIndex user_roots_;        // user name -> RuleTrie::Span::Pack() of the user's root
  UserIndex group_roots_;       // group name -> the same, for token groups
  // Every certificate identity a rule's cert_identities lists (NamesIdentity()).
  absl::flat_hash_set<std::string> cert_identities_;
  RuleTrie::Span anonymous_;  // the two shared roots' records, set in Build()
  RuleTrie::Span everyone_;
  SubscriptionGrant subscription_grant_ = SubscriptionGrant::kAnyReadable;
  RateTable rates_;
  // A read rule has a QoS limit or is in audit mode: a SUBSCRIBE then weighs every rule it
  // shares topics with, not just the first.
  bool read_limits_ = false;
  uint64_t version_ = 0;
  uint64_t snapshot_ = 0;  // ClientIdentity::Memo::snapshot: unique to this instance
};

// Adds every rule of a parsed acl_file, with mosquitto 2.0's meaning: `topic` lines before
// the first `user` line for anonymous clients, `topic` lines after one for that user,
// `pattern` lines for everyone with %u/%c; access read, write, readwrite, or deny (both).
void AddAclFile(const AclFile& file, AclPolicy::Builder& builder);

}  // namespace moat::policy
