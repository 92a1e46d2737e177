// The decoders' per-thread block cache: a block of the read-chunk size comes back on the
// next take, other sizes go to the heap, and the cache never holds more than its bound.
#include "proxy/mqtt/block_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace moat::mqtt {
namespace {

constexpr size_t kBlock = BlockCache::kBlockSize;

TEST(BlockCache, AGivenBlockIsTheNextOneTaken) {
  BlockCache cache;
  uint8_t* block = cache.Take(kBlock);
  cache.Give(block, kBlock);
  EXPECT_EQ(cache.cached(), 1u);
  EXPECT_EQ(cache.Take(kBlock), block);
  EXPECT_EQ(cache.cached(), 0u);
  cache.Give(block, kBlock);
}

TEST(BlockCache, OtherSizesAreNeverKept) {
  BlockCache cache;
  cache.Give(new uint8_t[kBlock * 2], kBlock * 2);
  cache.Give(new uint8_t[4096], 4096);
  EXPECT_EQ(cache.cached(), 0u);
}

TEST(BlockCache, HoldsAtMostItsBound) {
  BlockCache cache;
  for (size_t i = 0; i < BlockCache::kMaxBlocks + 5; ++i) cache.Give(new uint8_t[kBlock], kBlock);
  EXPECT_EQ(cache.cached(), BlockCache::kMaxBlocks);
}

TEST(BlockCache, EachThreadHasItsOwn) {
  BlockCache& mine = BlockCache::ForThisThread();
  const size_t before = mine.cached();
  std::thread([] {
    BlockCache& theirs = BlockCache::ForThisThread();
    theirs.Give(theirs.Take(kBlock), kBlock);
    EXPECT_EQ(theirs.cached(), 1u);
  }).join();
  EXPECT_EQ(mine.cached(), before);
}

}  // namespace
}  // namespace moat::mqtt
