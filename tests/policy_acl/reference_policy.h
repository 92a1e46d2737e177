// A deliberately naive evaluator of an AclFile: every rule, every time, with the string
// functions of topic_match.h and textual %u/%c substitution. The trie in AclPolicy must
// give exactly the same verdict and name exactly the same rule; the differential test and
// the acl_file fuzz harness check that on random rules and questions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/rule_trie.h"
#include "policy/acl/topic_match.h"
#include "policy/authorizer.h"

namespace moat::policy::test {

class ReferencePolicy {
 public:
  explicit ReferencePolicy(const AclFile& file) : file_(file) {}

  enum class Action : uint8_t { kPublish, kReceive, kSubscribe };

  // SUBSCRIBE under SubscriptionGrant::kAnyReadable: granted when some read line shares a
  // topic with the filter and no single deny line covers what they share (the lowest
  // such deny names a refusal). The verdict, and the rule of a refusal ("" if none).
  std::pair<bool, std::string> DecideAnyReadable(const ClientIdentity& client,
                                                 std::string_view topic) const {
    const std::string_view subject = InnerFilter(topic);
    if (!IsValidFilter(subject)) return {false, ""};
    const AclRule* withheld_by = nullptr;
    for (const AclRule& rule : file_.rules) {
      if (rule.access == AclAccess::kDeny || !(Actions(rule) & kActionRead)) continue;
      if (!AppliesTo(rule, client)) continue;
      std::string filter;
      if (!Substitute(rule, client, &filter)) continue;
      const std::optional<std::string> shared = Intersection(filter, subject);
      if (!shared) continue;
      const AclRule* covering = nullptr;
      for (const AclRule& deny : file_.rules) {
        if (deny.access != AclAccess::kDeny || !AppliesTo(deny, client)) continue;
        if (DenyCovers(deny, client, *shared)) {
          covering = &deny;
          break;
        }
      }
      if (covering == nullptr) return {true, ""};
      if (withheld_by == nullptr || covering->line < withheld_by->line) withheld_by = covering;
    }
    return {false, withheld_by ? Name(*withheld_by) : ""};
  }

  // The filter of the topics both filters match, or nullopt when there is none.
  static std::optional<std::string> Intersection(std::string_view a, std::string_view b) {
    const Levels x = SplitLevels(a);
    const Levels y = SplitLevels(b);
    std::vector<std::string> levels;
    for (size_t i = 0;; ++i) {
      const bool x_end = i == x.size();
      const bool y_end = i == y.size();
      if (x_end && y_end) break;
      const bool dollar_x = i == 0 && !x_end && StartsWithDollar(x[i]);
      const bool dollar_y = i == 0 && !y_end && StartsWithDollar(y[i]);
      if (!x_end && x[i] == "#") {
        if (dollar_y) return std::nullopt;
        for (size_t j = i; j < y.size(); ++j) levels.emplace_back(y[j]);
        break;
      }
      if (!y_end && y[i] == "#") {
        if (dollar_x) return std::nullopt;
        for (size_t j = i; j < x.size(); ++j) levels.emplace_back(x[j]);
        break;
      }
      if (x_end || y_end) return std::nullopt;
      if (x[i] == "+") {
        if (dollar_y) return std::nullopt;
        levels.emplace_back(y[i]);
      } else if (y[i] == "+") {
        if (dollar_x) return std::nullopt;
        levels.emplace_back(x[i]);
      } else if (x[i] == y[i]) {
        levels.emplace_back(x[i]);
      } else {
        return std::nullopt;
      }
    }
    // One empty level is the empty topic, which no PUBLISH may name [MQTT-4.7.3-1].
    if (levels.size() == 1 && levels[0].empty()) return std::nullopt;
    std::string out;
    for (size_t i = 0; i < levels.size(); ++i) {
      if (i != 0) out += "/";
      out += levels[i];
    }
    return out;
  }

  // The verdict and the rule ("FILE:LINE", or "" for the default deny).
  std::pair<bool, std::string> Decide(const ClientIdentity& client, Action action,
                                      std::string_view topic) const {
    std::string_view subject = topic;
    if (action == Action::kSubscribe) {
      subject = InnerFilter(topic);
      if (!IsValidFilter(subject)) return {false, ""};
    } else if (!IsValidTopicName(topic)) {
      return {false, ""};
    }
    const uint8_t want = action == Action::kPublish ? kActionPublish : kActionRead;
    // Deny pass: the first deny line (in file order) that applies.
    for (const AclRule& rule : file_.rules) {
      if (rule.access != AclAccess::kDeny || !AppliesTo(rule, client)) continue;
      if (DenyHits(rule, client, action, subject)) return {false, Name(rule)};
    }
    // Allow pass: the first line granting the action.
    for (const AclRule& rule : file_.rules) {
      if (rule.access == AclAccess::kDeny || !(Actions(rule) & want)) continue;
      if (!AppliesTo(rule, client)) continue;
      std::string filter;
      if (!Substitute(rule, client, &filter)) continue;
      const bool hit = action == Action::kSubscribe ? FilterCovers(filter, subject)
                                                    : TopicMatchesFilter(subject, filter);
      if (hit) return {true, Name(rule)};
    }
    return {false, ""};
  }

 private:
  static bool StartsWithDollar(std::string_view level) { return level.starts_with('$'); }

  static bool Safe(std::string_view identity) {
    return !identity.empty() && identity.find_first_of("/+#") == std::string_view::npos;
  }

  static uint8_t Actions(const AclRule& rule) {
    switch (rule.access) {
      case AclAccess::kRead:
        return kActionRead;
      case AclAccess::kWrite:
        return kActionPublish;
      default:
        return kActionPublish | kActionRead;
    }
  }

  std::string Name(const AclRule& rule) const {
    return file_.filename + ":" + std::to_string(rule.line);
  }

  static bool AppliesTo(const AclRule& rule, const ClientIdentity& client) {
    switch (rule.scope) {
      case AclScope::kAnonymous:
        return client.username.empty();
      case AclScope::kUser:
        return !client.username.empty() && rule.user == client.username;
      case AclScope::kPattern:
        // A pattern using %u is skipped for a client without a username (as mosquitto).
        return !(RuleTrie::PlaceholdersIn(rule.filter) & kUsesUsername) || !client.username.empty();
    }
    return false;
  }

  // The rule's filter with %u/%c put in as text; false when an identity it uses is not
  // usable as one literal level.
  static bool Substitute(const AclRule& rule, const ClientIdentity& client, std::string* out) {
    out->clear();
    const std::string& f = rule.filter;
    if (rule.scope != AclScope::kPattern) {
      *out = f;
      return true;
    }
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] == '%' && i + 1 < f.size() && (f[i + 1] == 'u' || f[i + 1] == 'c')) {
        const std::string& identity = f[i + 1] == 'u' ? client.username : client.client_id;
        if (!Safe(identity)) return false;
        *out += identity;
        ++i;
      } else {
        out->push_back(f[i]);
      }
    }
    return true;
  }

  // Does the deny line withhold every topic `shared` (a filter) can match?
  static bool DenyCovers(const AclRule& rule, const ClientIdentity& client,
                         std::string_view shared) {
    std::string filter;
    if (Substitute(rule, client, &filter)) return FilterCovers(filter, shared);
    // An identity that cannot fill the placeholder: everything under the levels before the
    // first placeholder level is denied, the prefix itself included.
    const Levels rule_levels = SplitLevels(rule.filter);
    const Levels levels = SplitLevels(shared);
    size_t depth = 0;
    while (depth < rule_levels.size() && !RuleTrie::PlaceholdersIn(rule_levels[depth])) ++depth;
    if (levels.size() < depth) return false;
    for (size_t i = 0; i < depth; ++i) {
      const std::string_view prefix = rule_levels[i];
      const std::string_view level = levels[i];
      if (level == "#") return false;
      if (prefix == "+") {
        if (i == 0 && StartsWithDollar(level)) return false;
      } else if (prefix != level) {
        return false;
      }
    }
    return true;
  }

  static bool DenyHits(const AclRule& rule, const ClientIdentity& client, Action action,
                       std::string_view subject) {
    std::string filter;
    if (Substitute(rule, client, &filter)) {
      return action == Action::kSubscribe ? FiltersIntersect(filter, subject)
                                          : TopicMatchesFilter(subject, filter);
    }
    return UnsafePrefixHits(rule, action, subject);
  }

  // An identity that cannot fill a placeholder: the deny covers everything under the levels
  // before the first placeholder level (the '$' rule aside).
  static bool UnsafePrefixHits(const AclRule& rule, Action action, std::string_view subject) {
    const Levels rule_levels = SplitLevels(rule.filter);
    const Levels levels = SplitLevels(subject);
    size_t depth = 0;
    while (depth < rule_levels.size() && !RuleTrie::PlaceholdersIn(rule_levels[depth])) ++depth;
    for (size_t i = 0; i < depth; ++i) {
      const std::string_view prefix = rule_levels[i];
      if (i == levels.size()) return false;
      const std::string_view level = levels[i];
      const bool dollar = i == 0 && !level.empty() && level[0] == '$';
      if (action != Action::kSubscribe) {
        if (prefix == "+" ? dollar : prefix != level) return false;
        continue;
      }
      if (level == "#") {
        return !(i == 0 && prefix != "+" && !prefix.empty() && prefix[0] == '$');
      }
      if (level == "+") {
        if (i == 0 && prefix != "+" && !prefix.empty() && prefix[0] == '$') return false;
        continue;
      }
      if (prefix == "+" ? dollar : prefix != level) return false;
    }
    return true;
  }

  const AclFile& file_;
};

}  // namespace moat::policy::test
