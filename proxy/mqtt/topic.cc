#include "proxy/mqtt/topic.h"

namespace moat::mqtt {
namespace {

constexpr std::string_view kSharePrefix = "$share/";

bool IsValidPlainFilter(std::string_view filter) {
  if (filter.empty()) return false;
  for (size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c != '+' && c != '#') continue;
    const bool starts_level = (i == 0 || filter[i - 1] == '/');
    const bool ends_level = (i + 1 == filter.size() || filter[i + 1] == '/');
    if (!starts_level || !ends_level) return false;
    if (c == '#' && i + 1 != filter.size()) return false;  // '#' must be the last level
  }
  return true;
}

}  // namespace

DecodeError ValidateTopicName(std::string_view topic) {
  if (topic.empty()) return DecodeError::kEmptyTopicName;
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return DecodeError::kInvalidTopicName;
  }
  return DecodeError::kNone;
}

DecodeError ValidateTopicFilter(std::string_view filter) {
  if (filter.starts_with(kSharePrefix)) {
    const std::string_view rest = filter.substr(kSharePrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) {
      return DecodeError::kInvalidSharedSubscription;
    }
    const std::string_view share_name = rest.substr(0, slash);
    if (share_name.find_first_of("+#") != std::string_view::npos) {
      return DecodeError::kInvalidSharedSubscription;
    }
    if (!IsValidPlainFilter(rest.substr(slash + 1))) {
      return DecodeError::kInvalidSharedSubscription;
    }
    return DecodeError::kNone;
  }
  return IsValidPlainFilter(filter) ? DecodeError::kNone : DecodeError::kInvalidTopicFilter;
}

std::optional<SharedSubscription> ParseSharedSubscription(std::string_view filter) {
  if (!filter.starts_with(kSharePrefix)) return std::nullopt;
  const std::string_view rest = filter.substr(kSharePrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return SharedSubscription{rest.substr(0, slash), rest.substr(slash + 1)};
}

}  // namespace moat::mqtt
