// The OpenSSL allocation functions: blocks of 4-32 KiB come back from a per-thread cache by
// size class, contents survive growth, the cache stays within its budget, and everything
// else is plain malloc.
#include "proxy/tls/openssl_allocator.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstring>
#include <thread>
#include <vector>

namespace moat::tls {
namespace {

TEST(OpenSslAllocator, AFreedRecordBufferIsHandedBackForTheSameClass) {
  void* first = OpenSslAllocate(16 * 1024 + 300, __FILE__, __LINE__);
  ASSERT_NE(first, nullptr);
  EXPECT_GE(malloc_usable_size(first), 16 * 1024 + 300u);
  const size_t before = OpenSslCachedBytes();
  OpenSslRelease(first, __FILE__, __LINE__);
  EXPECT_GT(OpenSslCachedBytes(), before);
  void* second = OpenSslAllocate(16 * 1024 + 1, __FILE__, __LINE__);  // same 17 KiB class
  EXPECT_EQ(second, first);
  EXPECT_EQ(OpenSslCachedBytes(), before);
  OpenSslRelease(second, __FILE__, __LINE__);
}

TEST(OpenSslAllocator, SmallAndHugeBlocksAreNotCached) {
  const size_t before = OpenSslCachedBytes();
  for (const size_t size : {1u, 100u, 4000u, 40000u, 1u << 20}) {
    void* block = OpenSslAllocate(size, __FILE__, __LINE__);
    ASSERT_NE(block, nullptr) << size;
    std::memset(block, 0xab, size);
    OpenSslRelease(block, __FILE__, __LINE__);
    EXPECT_EQ(OpenSslCachedBytes(), before) << size;
  }
  EXPECT_EQ(OpenSslAllocate(0, __FILE__, __LINE__), nullptr);
  OpenSslRelease(nullptr, __FILE__, __LINE__);
}

TEST(OpenSslAllocator, ReallocKeepsTheContentsAcrossClasses) {
  auto* block = static_cast<unsigned char*>(OpenSslReallocate(nullptr, 100, __FILE__, __LINE__));
  ASSERT_NE(block, nullptr);
  for (int i = 0; i < 100; ++i) block[i] = static_cast<unsigned char>(i);
  for (const size_t size : {5000u, 9000u, 20000u, 70000u, 12000u}) {
    block = static_cast<unsigned char*>(OpenSslReallocate(block, size, __FILE__, __LINE__));
    ASSERT_NE(block, nullptr) << size;
    ASSERT_GE(malloc_usable_size(block), size);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(block[i], i) << "after growing to " << size;
  }
  EXPECT_EQ(OpenSslReallocate(block, 0, __FILE__, __LINE__), nullptr);
}

TEST(OpenSslAllocator, TheCacheStaysWithinItsBudget) {
  std::thread([] {  // a fresh thread: a cache of its own
    std::vector<void*> blocks;
    for (int i = 0; i < 400; ++i) blocks.push_back(OpenSslAllocate(20000, __FILE__, __LINE__));
    for (void* block : blocks) OpenSslRelease(block, __FILE__, __LINE__);
    EXPECT_GT(OpenSslCachedBytes(), 256u << 10);
    EXPECT_LE(OpenSslCachedBytes(), 512u << 10);
  })
      .join();
}

}  // namespace
}  // namespace moat::tls
