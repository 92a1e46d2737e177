#include "proxy/memory_trim.h"

#include <malloc.h>

#include <algorithm>

namespace moat::proxy {

namespace {

// Small churn is what the heap is for; only a burst leaves a heap worth trimming.
constexpr uint64_t kBurst = 2000;

}  // namespace

void BurstTrimmer::Opened(uint64_t open) { peak_ = std::max(peak_, open); }

void BurstTrimmer::Closed(uint64_t open) {
  if (peak_ < open + kBurst || open > peak_ / 2) return;
  peak_ = open;
  // Every arena, this thread's included: a few milliseconds, once per burst.
  malloc_trim(0);
}

}  // namespace moat::proxy
