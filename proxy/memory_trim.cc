#include "proxy/memory_trim.h"

#include <malloc.h>

#include <cstddef>

namespace moat::proxy {

bool TrimFreedMemory() {
  constexpr size_t kMinimumFree = 16u << 20;
  const struct mallinfo2 info = mallinfo2();
  const size_t free_bytes = info.fordblks;
  if (free_bytes < kMinimumFree || free_bytes < info.uordblks) return false;
  malloc_trim(0);
  return true;
}

}  // namespace moat::proxy
