#include "proxy/memory_trim.h"

#include <malloc.h>

#include <algorithm>

namespace moat::proxy {

void BurstTrimmer::Opened(uint64_t open) { peak_ = std::max(peak_, open); }

void BurstTrimmer::Closed(uint64_t open) {
  if (peak_ < open + kBurst || open > peak_ / 2) return;
  peak_ = open;
  trim_();
}

void BurstTrimmer::TrimHeap() { malloc_trim(0); }

}  // namespace moat::proxy
