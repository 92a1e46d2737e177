#include "policy/acl/huge_pages.h"

#include <sys/mman.h>

namespace moat::policy {

namespace {
constexpr uintptr_t kHugePage = 2 * 1024 * 1024;
}  // namespace

std::optional<AddressRange> WholeHugePages(uintptr_t data, size_t bytes) {
  if (bytes < 2 * kHugePage) return std::nullopt;
  const uintptr_t begin = (data + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (data + bytes) & ~(kHugePage - 1);
  if (end <= begin) return std::nullopt;
  return AddressRange{begin, end};
}

void AdviseHugePages(const void* data, size_t bytes) {
#ifdef MADV_HUGEPAGE
  if (const auto range = WholeHugePages(reinterpret_cast<uintptr_t>(data), bytes)) {
    madvise(reinterpret_cast<void*>(range->begin), range->end - range->begin, MADV_HUGEPAGE);
  }
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace moat::policy
