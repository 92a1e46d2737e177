// MQTT topic names and filters, split into levels once and compared level by level.
//
//   TopicMatchesFilter(topic, filter)   PUBLISH and delivery: does the filter match the name?
//   FilterCovers(grant, requested)      SUBSCRIBE: is every topic `requested` can match also
//                                       matched by `grant`?
//   FiltersIntersect(a, b)              SUBSCRIBE vs deny rules: is there a topic both match?
//
// These are separate functions on purpose (mosquitto's one matcher is used for both
// questions, where '+' must not cover '#'). Invalid input never matches: a caller cannot
// mistake "malformed" for "no rule", because the Is*() checks tell the two apart.
//
// Rules of the spec applied everywhere: '+' matches exactly one level, '#' matches the
// rest including the parent level ("a/#" matches "a") [MQTT-4.7.1-2]; empty levels are
// levels ("a//b" has three); matching is case-sensitive and byte-exact [MQTT-4.7.3-4];
// a wildcard never matches a first level starting with '$' [MQTT-4.7.2-1].
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace moat::policy {

// A topic name or filter is at most 65535 bytes: it is a UTF-8 string [MQTT-1.5.3].
inline constexpr size_t kMaxTopicSize = 65535;

using Levels = absl::InlinedVector<std::string_view, 16>;

// "a//b" -> {"a", "", "b"}; "/" -> {"", ""}; "" -> {""}. The views point into `topic`.
void SplitLevels(std::string_view topic, Levels& out);
inline Levels SplitLevels(std::string_view topic) {
  Levels levels;
  SplitLevels(topic, levels);
  return levels;
}

inline bool IsWildcardLevel(std::string_view level) { return level == "+" || level == "#"; }

// Why `filter` is not a valid topic filter, or "" when it is: non-empty
// [MQTT-4.7.3-1], at most 65535 bytes, no NUL [MQTT-4.7.3-2], '+' fills a whole level
// [MQTT-4.7.1-3], '#' fills the last level [MQTT-4.7.1-2].
std::string_view FilterProblem(std::string_view filter);
inline bool IsValidFilter(std::string_view filter) { return FilterProblem(filter).empty(); }
// A filter in a rule (acl_file or native policy): FilterProblem(), and at most 200 '/' as
// mosquitto's broker enforces (TOPIC_HIERARCHY_LIMIT). The limit also bounds the depth of
// the rule trie, and so the recursion of every walk over it.
inline constexpr size_t kMaxRuleLevels = 201;
std::string_view RuleFilterProblem(std::string_view filter);
// A topic name: non-empty, at most 65535 bytes, no NUL, no wildcard [MQTT-3.3.2-2].
bool IsValidTopicName(std::string_view topic);

// IsValidTopicName() and SplitLevels() in one pass over the bytes (the hot path: every
// PUBLISH and every delivery). False, with `out` unspecified, for an invalid name.
bool SplitTopicName(std::string_view topic, Levels& out);

bool TopicMatchesFilter(std::string_view topic, std::string_view filter);
// True iff every topic `requested` can match is matched by `grant`: a '+' in the request is
// covered only by '+' or '#', a '#' only by '#'; a grant "a/#" covers "a".
bool FilterCovers(std::string_view grant, std::string_view requested);
// True iff some topic name is matched by both filters.
bool FiltersIntersect(std::string_view a, std::string_view b);

// The same on levels already split (all of them valid; not re-checked).
bool LevelsMatch(const Levels& topic, const Levels& filter);
bool LevelsCover(const Levels& grant, const Levels& requested);
bool LevelsIntersect(const Levels& a, const Levels& b);

// The filter a subscription is judged on: "$share/{group}/{filter}" [MQTT-4.8.2] and
// "$queue/{filter}" (the older shared form) are judged on {filter}; any other filter is
// itself. A malformed share ("$share/g" without a filter, an empty group, a group holding
// '+' or '#') gives "", which no check accepts.
std::string_view InnerFilter(std::string_view filter);

}  // namespace moat::policy
