#include "policy/acl/acl_policy.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_verdicts.h"

namespace moat::policy {
AclPolicy::Builder::Builder() : policy_(new AclPolicy()) {
  anonymous_root_ = policy_->trie_.AddRoot();
  everyone_root_ = policy_->trie_.AddRoot();
}

uint32_t AclPolicy::Builder::UserRoot(const std::string& user) {
  auto [it, inserted] = user_roots_.try_emplace(user, 0);
  if (inserted) it->second = policy_->trie_.AddRoot();
  return it->second;
}

uint32_t AclPolicy::Builder::GroupRoot(const std::string& group) {
  auto [it, inserted] = group_roots_.try_emplace(group, 0);
  if (inserted) it->second = policy_->trie_.AddRoot();
  return it->second;
}

void AclPolicy::Builder::Add(const RuleSpec& spec) {
  const auto index = static_cast<uint32_t>(policy_->rules_.size());
  // Names go into one buffer; rules and references hold offsets until Build() (the buffer
  // still grows), the references as their tag.
  const uint64_t tag = uint64_t{static_cast<uint32_t>(policy_->sources_.size())} << 32 |
                       static_cast<uint32_t>(spec.source.size());
  policy_->sources_.append(spec.source);
  Rule rule;
  rule.label = spec.label;
  rule.max_qos = spec.max_qos;
  rule.allow_retain = spec.allow_retain;
  rule.audit = spec.audit;
  if (!spec.deny && spec.max_payload != kNoPayloadLimit) {
    rule.payload_limit = true;
    policy_->max_payloads_.emplace(index, spec.max_payload);
  }
  if (!spec.deny) rule.payload_format = static_cast<uint8_t>(spec.payload_format);
  if (!spec.location.empty()) policy_->locations_.try_emplace(spec.source, spec.location);
  if (!spec.conditions.empty()) {
    rule.conditions = static_cast<uint32_t>(policy_->conditions_.size());
    policy_->conditions_.push_back(spec.conditions);
    policy_->cert_identities_.insert(spec.conditions.cert_identities.begin(),
                                     spec.conditions.cert_identities.end());
  }
  policy_->rules_.push_back(rule);
  if (!spec.deny && (spec.actions & kActionRead) && (spec.max_qos < 2 || spec.audit)) {
    policy_->read_limits_ = true;
  }

  std::vector<uint32_t> roots;
  if (spec.everyone) {
    roots.push_back(everyone_root_);
  } else {
    if (spec.anonymous) roots.push_back(anonymous_root_);
    for (const std::string& user : spec.users) roots.push_back(UserRoot(user));
    for (const std::string& group : spec.groups) roots.push_back(GroupRoot(group));
    std::sort(roots.begin(), roots.end());
    roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  }
  TrieRule entry;
  entry.index = index;
  entry.deny = spec.deny;
  entry.actions = spec.actions;
  // An audit rule is never plain, so that the sink looks up its mode; an allow rule's mode
  // only matters when a limit refuses, which already makes it not plain.
  entry.plain =
      spec.conditions.empty() &&
      (spec.deny ? !spec.audit
                 : spec.max_qos >= 2 && spec.allow_retain && spec.max_payload == kNoPayloadLimit &&
                       spec.payload_format == PayloadFormat::kAny);
  entry.label = spec.label;
  entry.tag = tag;
  policy_->tags_.push_back(tag);
  for (uint32_t root : roots) {
    for (const std::string& filter : spec.filters) {
      policy_->trie_.Insert(root, filter, spec.placeholders, entry);
    }
  }
}

void AclPolicy::Builder::AddRateLimit(RateLimitSpec spec, std::string location) {
  policy_->locations_.try_emplace(spec.id, std::move(location));
  policy_->rates_.Add(std::move(spec));
}

std::shared_ptr<const AclPolicy> AclPolicy::Builder::Build(uint64_t version) && {
  static std::atomic<uint64_t> snapshots{0};
  policy_->version_ = version;
  policy_->snapshot_ = snapshots.fetch_add(1, std::memory_order_relaxed) + 1;
  policy_->trie_.Finalize();
  policy_->sources_.shrink_to_fit();
  for (size_t i = 0; i < policy_->rules_.size(); ++i) {
    policy_->rules_[i].source = policy_->Source(policy_->tags_[i]);
  }
  policy_->tags_ = {};
  std::vector<std::pair<std::string, uint64_t>> spans;
  spans.reserve(user_roots_.size());
  for (auto& [user, root] : user_roots_) {
    spans.emplace_back(user, policy_->trie_.RootSpan(root).Pack());
  }
  user_roots_ = {};
  policy_->user_roots_ = UserIndex(spans);
  spans.clear();
  for (auto& [group, root] : group_roots_) {
    spans.emplace_back(group, policy_->trie_.RootSpan(root).Pack());
  }
  group_roots_ = {};
  policy_->group_roots_ = UserIndex(spans);
  policy_->anonymous_ = policy_->trie_.RootSpan(anonymous_root_);
  policy_->everyone_ = policy_->trie_.RootSpan(everyone_root_);
  return std::shared_ptr<const AclPolicy>(std::move(policy_));
}

uint64_t AclPolicy::UserRoot(const ClientIdentity& client) const {
  if (client.memo.snapshot != snapshot_) {
    client.memo.snapshot = snapshot_;
    client.memo.value =
        client.username.empty() ? anonymous_.Pack() : user_roots_.Find(client.username);
  }
  return client.memo.value;
}

AclPolicy::RootList AclPolicy::Roots(const ClientIdentity& client) const {
  RootList roots;
  ForEachRoot(client, [&roots](RuleTrie::Span root) { roots.push_back(root); });
  return roots;
}

std::string_view AclPolicy::RuleLocation(std::string_view rule) const {
  const auto it = locations_.find(std::string(rule));
  return it == locations_.end() ? std::string_view() : std::string_view(it->second);
}

Decision AclPolicy::AuthorizeConnect(const ClientIdentity&) const {
  // Authentication decides who may connect; the ACL only answers per topic.
  return {Verdict::kAllow, DenyReason::kNone, {}};
}

Decision AclPolicy::Match(const ClientIdentity& client, std::string_view topic, uint8_t action,
                          uint8_t qos, bool retain) const {
  Levels levels;
  if (!SplitTopicName(topic, levels)) return DenyBy(DenyReason::kNoRule, {}, RuleLabels::kDefault);
  const TrieQuery query(levels, action, client.username, client.client_id);
  Verdicts verdicts(*this, client, qos, retain);
  ForEachRoot(client, [&](RuleTrie::Span root) { trie_.MatchTopic(root, query, verdicts); });
  return verdicts.Result();
}

Decision AclPolicy::MayPublish(const ClientIdentity& client, std::string_view topic, uint8_t qos,
                               bool retain) const {
  return Match(client, topic, kActionPublish, qos, retain);
}

Decision AclPolicy::MayReceive(const ClientIdentity& client, std::string_view topic) const {
  return Match(client, topic, kActionRead, 0, false);
}

bool AclPolicy::NamesIdentity(const ClientIdentity& client) const {
  if (!client.username.empty() && user_roots_.Find(client.username) != UserIndex::kNone) {
    return true;
  }
  return !client.cert_identity.empty() && cert_identities_.contains(client.cert_identity);
}

void AddAclFile(const AclFile& file, AclPolicy::Builder& builder) {
  RuleSpec spec;
  // One label for every line: line numbers change with every edit, ids do not.
  spec.label = RuleLabels::kAclFile;
  for (const AclRule& rule : file.rules) {
    spec.source = absl::StrCat(file.filename, ":", rule.line);
    spec.deny = rule.access == AclAccess::kDeny;
    switch (rule.access) {
      case AclAccess::kRead:
        spec.actions = kActionRead;
        break;
      case AclAccess::kWrite:
        spec.actions = kActionPublish;
        break;
      case AclAccess::kReadWrite:
      case AclAccess::kDeny:  // mosquitto's MOSQ_ACL_NONE refuses reading and writing
        spec.actions = kActionPublish | kActionRead;
        break;
    }
    spec.filters.assign(1, rule.filter);
    spec.placeholders = rule.scope == AclScope::kPattern;
    spec.everyone = rule.scope == AclScope::kPattern;
    spec.anonymous = rule.scope == AclScope::kAnonymous;
    spec.users.clear();
    if (rule.scope == AclScope::kUser) spec.users.push_back(rule.user);
    builder.Add(spec);
  }
}

}  // namespace moat::policy
