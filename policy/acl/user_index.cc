#include "policy/acl/user_index.h"

#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "policy/acl/huge_pages.h"

namespace moat::policy {

uint64_t UserIndex::Hash(std::string_view name) {
  return absl::Hash<absl::string_view>{}(absl::string_view(name.data(), name.size()));
}

UserIndex::UserIndex(const std::vector<std::pair<std::string, uint64_t>>& entries) {
  size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity *= 2;  // load factor <= 1/2
  slots_.reserve(capacity);
  AdviseHugePages(slots_.data(), capacity * sizeof(Slot));
  slots_.resize(capacity);
  mask_ = capacity - 1;
  for (const auto& [name, value] : entries) {
    const uint64_t hash = Hash(name);
    size_t at = hash & mask_;
    while (slots_[at].value != kNone) at = (at + 1) & mask_;
    Slot& slot = slots_[at];
    slot.check = static_cast<uint32_t>(hash >> 32);
    slot.value = value;
    slot.size = static_cast<uint32_t>(name.size());
    if (name.size() <= kInline) {
      if (!name.empty()) std::memcpy(slot.name, name.data(), name.size());
    } else {
      const uint64_t offset = long_names_.size();
      std::memcpy(slot.name, &offset, sizeof offset);
      long_names_.append(name);
    }
  }
}

bool UserIndex::Holds(const Slot& slot, uint64_t hash, std::string_view name) const {
  if (slot.check != static_cast<uint32_t>(hash >> 32) || slot.size != name.size()) return false;
  if (name.empty()) return true;
  if (name.size() <= kInline) return std::memcmp(slot.name, name.data(), name.size()) == 0;
  uint64_t offset;
  std::memcpy(&offset, slot.name, sizeof offset);
  return std::memcmp(long_names_.data() + offset, name.data(), name.size()) == 0;
}

uint64_t UserIndex::Find(std::string_view name) const {
  if (slots_.empty()) return kNone;
  const uint64_t hash = Hash(name);
  for (size_t at = hash & mask_;; at = (at + 1) & mask_) {
    const Slot& slot = slots_[at];
    if (slot.value == kNone) return kNone;
    if (Holds(slot, hash, name)) return slot.value;
  }
}

}  // namespace moat::policy
