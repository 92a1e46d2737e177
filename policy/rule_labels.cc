#include "policy/rule_labels.h"

namespace moat::policy {
namespace {

constexpr std::string_view kFixedNames[] = {"default", "acl_file", "reserved_topic", "other"};
static_assert(std::size(kFixedNames) == RuleLabels::kFirstId);

// A label value goes verbatim into the exposition, which must be UTF-8; control
// characters would make the text format unreadable for humans even when escaped.
bool PrintableUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = code << 6 | (next & 0x3F);
    }
    constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;  // overlong, out of range, or a surrogate
    }
    i += length;
  }
  return true;
}

}  // namespace

bool RuleLabels::IsReservedId(std::string_view id) {
  for (std::string_view name : kFixedNames) {
    if (id == name) return true;
  }
  return false;
}

uint16_t RuleLabels::Assign(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || IsReservedId(id) || !PrintableUtf8(id)) {
    return kOther;
  }
  std::lock_guard lock(mutex_);
  if (const auto it = ids_.find(id); it != ids_.end()) return it->second;
  if (next_ >= kCount) return kOther;
  ids_.emplace(std::string(id), next_);
  return next_++;
}

std::vector<std::string> RuleLabels::Names() const {
  std::vector<std::string> names(kCount);
  for (size_t i = 0; i < kFirstId; ++i) names[i] = std::string(kFixedNames[i]);
  std::lock_guard lock(mutex_);
  for (const auto& [id, number] : ids_) names[number] = id;
  return names;
}

RuleLabels& RuleLabels::Global() {
  // Never destroyed: the metrics thread may still scrape while statics are torn down.
  static RuleLabels* const labels = new RuleLabels();
  return *labels;
}

}  // namespace moat::policy
