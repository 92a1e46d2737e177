// What the heap holds for allocations made through operator new while a HeapCount lives,
// as glibc malloc reserves it (usable size plus its header): tcache and fastbins make
// mallinfo2() blind to small blocks. One at a time, on one thread.
#pragma once

#include <cstddef>

namespace moat::test {

class HeapCount {
 public:
  HeapCount();
  ~HeapCount();
  HeapCount(const HeapCount&) = delete;
  HeapCount& operator=(const HeapCount&) = delete;

  // Bytes allocated and not yet freed since the count began (blocks allocated before it
  // and freed during it count against it).
  size_t Held() const;
};

}  // namespace moat::test
