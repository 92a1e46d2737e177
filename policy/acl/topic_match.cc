#include "policy/acl/topic_match.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace moat::policy {
namespace {

bool StartsWithDollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

// [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a topic whose first
// level starts with '$' ($SYS/..., but also $share-looking names of other brokers).
bool DollarBlocks(std::string_view topic_level, std::string_view filter_level) {
  return StartsWithDollar(topic_level) && IsWildcardLevel(filter_level);
}

}  // namespace

void SplitLevels(std::string_view topic, Levels& out) {
  out.clear();
  size_t start = 0;
  while (true) {
    const size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(topic.substr(start));
      return;
    }
    out.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

std::string_view FilterProblem(std::string_view filter) {
  if (filter.empty()) return "a topic filter must not be empty";
  if (filter.size() > kMaxTopicSize) return "a topic filter is at most 65535 bytes";
  if (filter.find('\0') != std::string_view::npos) return "a topic filter must not hold a NUL";
  size_t start = 0;
  while (true) {
    const size_t slash = filter.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level =
        filter.substr(start, last ? std::string_view::npos : slash - start);
    if (level.find('+') != std::string_view::npos && level != "+") {
      return "'+' must fill a whole level";
    }
    if (level.find('#') != std::string_view::npos) {
      if (level != "#") return "'#' must fill a whole level";
      if (!last) return "'#' must be the last level";
    }
    if (last) return {};
    start = slash + 1;
  }
}

std::string_view RuleFilterProblem(std::string_view filter) {
  const std::string_view problem = FilterProblem(filter);
  if (!problem.empty()) return problem;
  if (static_cast<size_t>(std::count(filter.begin(), filter.end(), '/')) >= kMaxRuleLevels) {
    return "a rule's topic filter has at most 200 '/' (mosquitto's limit)";
  }
  return {};
}

// Byte classes for the one-pass scans: a table lookup per byte instead of a call to
// memchr per byte (which is what find_first_of() does).
constexpr uint8_t kSeparator = 1;
constexpr uint8_t kForbidden = 2;  // '+', '#', NUL: never in a topic name
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> table{};
  table['/'] = kSeparator;
  table['+'] = kForbidden;
  table['#'] = kForbidden;
  table[0] = kForbidden;
  return table;
}();

bool IsValidTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicSize) return false;
  for (const char c : topic) {
    if (kByteClass[static_cast<uint8_t>(c)] == kForbidden) return false;
  }
  return true;
}

bool SplitTopicName(std::string_view topic, Levels& out) {
  if (topic.empty() || topic.size() > kMaxTopicSize) return false;
  out.clear();
  const char* const data = topic.data();
  size_t start = 0;
  for (size_t i = 0; i < topic.size(); ++i) {
    const uint8_t kind = kByteClass[static_cast<uint8_t>(data[i])];
    if (kind == 0) continue;
    if (kind == kForbidden) return false;
    out.emplace_back(data + start, i - start);
    start = i + 1;
  }
  out.emplace_back(data + start, topic.size() - start);
  return true;
}

bool LevelsMatch(const Levels& topic, const Levels& filter) {
  if (DollarBlocks(topic[0], filter[0])) return false;
  for (size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == "#") return true;  // the rest, parent level included
    if (i >= topic.size()) return false;
    if (filter[i] != "+" && filter[i] != topic[i]) return false;
  }
  return topic.size() == filter.size();
}

bool LevelsCover(const Levels& grant, const Levels& requested) {
  // A requested "$SYS/..." is only ever covered by a grant naming its '$' level; a
  // requested "+/..." or "#" matches no '$' topic, so a wildcard grant may cover it.
  if (DollarBlocks(requested[0], grant[0])) return false;
  for (size_t i = 0;; ++i) {
    if (i < grant.size() && grant[i] == "#") return true;
    if (i == requested.size()) return grant.size() == requested.size();
    if (i == grant.size()) return false;
    const std::string_view want = requested[i];
    if (want == "#") return false;  // only '#' covers '#'
    if (want == "+") {
      if (grant[i] != "+") return false;  // a literal covers one value, '+' covers all
    } else if (grant[i] != "+" && grant[i] != want) {
      return false;
    }
  }
}

bool LevelsIntersect(const Levels& a, const Levels& b) {
  if (DollarBlocks(a[0], b[0]) || DollarBlocks(b[0], a[0])) return false;
  for (size_t i = 0;; ++i) {
    const bool more_a = i < a.size();
    const bool more_b = i < b.size();
    if ((more_a && a[i] == "#") || (more_b && b[i] == "#")) return true;
    if (!more_a || !more_b) return more_a == more_b;
    if (a[i] != "+" && b[i] != "+" && a[i] != b[i]) return false;
  }
}

bool TopicMatchesFilter(std::string_view topic, std::string_view filter) {
  if (!IsValidTopicName(topic) || !IsValidFilter(filter)) return false;
  return LevelsMatch(SplitLevels(topic), SplitLevels(filter));
}

bool FilterCovers(std::string_view grant, std::string_view requested) {
  if (!IsValidFilter(grant) || !IsValidFilter(requested)) return false;
  return LevelsCover(SplitLevels(grant), SplitLevels(requested));
}

bool FiltersIntersect(std::string_view a, std::string_view b) {
  if (!IsValidFilter(a) || !IsValidFilter(b)) return false;
  return LevelsIntersect(SplitLevels(a), SplitLevels(b));
}

std::string_view InnerFilter(std::string_view filter) {
  constexpr std::string_view kShare = "$share/";
  constexpr std::string_view kQueue = "$queue/";
  if (filter.starts_with(kShare)) {
    const std::string_view rest = filter.substr(kShare.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return {};
    // ShareName: at least one character, no '/', '+' or '#' [MQTT-4.8.2-1, 4.8.2-2].
    if (rest.substr(0, slash).find_first_of("+#") != std::string_view::npos) return {};
    return rest.substr(slash + 1);
  }
  if (filter.starts_with(kQueue)) return filter.substr(kQueue.size());
  return filter;
}

}  // namespace moat::policy
