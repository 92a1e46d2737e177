#include "proxy/mqtt/block_cache.h"

namespace moat::mqtt {

BlockCache::~BlockCache() {
  for (size_t i = 0; i < count_; ++i) delete[] blocks_[i];
}

BlockCache& BlockCache::ForThisThread() {
  thread_local BlockCache cache;
  return cache;
}

uint8_t* BlockCache::Take(size_t size) {
  if (size == kBlockSize && count_ > 0) return blocks_[--count_];
  return new uint8_t[size];
}

void BlockCache::Give(uint8_t* block, size_t size) {
  if (size == kBlockSize && count_ < kMaxBlocks) {
    blocks_[count_++] = block;
    return;
  }
  delete[] block;
}

}  // namespace moat::mqtt
