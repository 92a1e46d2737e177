// User name -> where the user's rules lie: the lookup a connection's first decision starts
// with, so it is built for a cold cache. One open-addressing table of 32-byte slots holding
// the value, part of the hash and the name itself (up to 16 bytes; longer names point into
// a side buffer): a lookup usually reads one cache line, and the value it finds leads
// straight to the rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moat::policy {

class UserIndex {
 public:
  static constexpr uint64_t kNone = UINT64_MAX;

  UserIndex() = default;
  // Names must be distinct; no value may be kNone.
  explicit UserIndex(const std::vector<std::pair<std::string, uint64_t>>& entries);

  uint64_t Find(std::string_view name) const;

 private:
  static constexpr size_t kInline = 16;
  struct Slot {
    uint64_t value = kNone;
    uint32_t check = 0;  // the hash's high half: most mismatches stop here
    uint32_t size = 0;
    char name[kInline] = {};  // the name, or (longer) its offset in long_names_
  };
  static_assert(sizeof(Slot) == 32);
  static uint64_t Hash(std::string_view name);
  bool Holds(const Slot& slot, uint64_t hash, std::string_view name) const;

  std::vector<Slot> slots_;
  std::string long_names_;
  uint64_t mask_ = 0;
};

}  // namespace moat::policy
