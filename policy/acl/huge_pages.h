// Transparent huge pages for the policy's large read-mostly tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace moat::policy {

// Asks the kernel to back [data, data + bytes) with transparent huge pages; call before
// the memory is first written. Policies are read at random, one user per packet, and a TLB
// miss per access would otherwise add to every cache miss. Does nothing where unsupported.
void AdviseHugePages(const void* data, size_t bytes);

// The whole 2 MiB pages inside [data, data + bytes), as [begin, end); nullopt when the
// range is too small to be worth one (under two huge pages, so at least one whole page
// lies inside whatever the alignment).
struct AddressRange {
  uintptr_t begin;
  uintptr_t end;
  bool operator==(const AddressRange&) const = default;
};
std::optional<AddressRange> WholeHugePages(uintptr_t data, size_t bytes);

}  // namespace moat::policy
