#include "proxy/tls/openssl_allocator.h"

#include <malloc.h>
#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>

namespace moat::tls {
namespace {

// Size classes 4, 5, ... 32 KiB. A record buffer (16 KiB of plaintext plus overhead) lands
// in the 17 KiB class; classes 1 KiB apart waste at most 1 KiB per block.
constexpr size_t kGranule = 1024;
constexpr size_t kSmallest = 4 * 1024;
constexpr size_t kLargest = 32 * 1024;
constexpr size_t kClasses = (kLargest - kSmallest) / kGranule + 1;
// What one thread may keep: about 30 record buffers, more than one thread has in flight at
// once (each is freed before its connection's next wake-up); the rest goes back to glibc.
// Small, because it counts against the memory of every idle connection.
constexpr size_t kThreadBudget = 512 * 1024;

size_t ClassSize(size_t index) { return kSmallest + index * kGranule; }

// The smallest class that holds `size` bytes (kSmallest <= size <= kLargest).
size_t ClassFor(size_t size) { return (size - kSmallest + kGranule - 1) / kGranule; }

// Trivially destructible, so reaching it needs no guard; freed blocks are linked through
// their first bytes.
struct Cache {
  void* heads[kClasses];
  size_t bytes;
  bool dead;  // this thread's cache was drained at thread exit
};
thread_local Cache cache;

// Drains the cache when its thread ends; OpenSSL may still free blocks after that, which
// then go straight to glibc.
struct CacheDrain {
  ~CacheDrain() {
    for (void*& head : cache.heads) {
      while (head != nullptr) {
        void* next;
        std::memcpy(&next, head, sizeof next);
        std::free(head);
        head = next;
      }
    }
    cache.bytes = 0;
    cache.dead = true;
  }
  void Arm() {}
};
thread_local CacheDrain drain;

bool Cacheable(size_t usable) { return usable >= kSmallest && usable < kLargest + kGranule; }

}  // namespace

void* OpenSslAllocate(size_t size, const char* /*file*/, int /*line*/) {
  if (size == 0) return nullptr;  // what CRYPTO_malloc(0) gives without custom functions
  if (size < kSmallest || size > kLargest) return std::malloc(size);
  const size_t index = ClassFor(size);
  if (void* block = cache.heads[index]) {
    std::memcpy(&cache.heads[index], block, sizeof(void*));
    cache.bytes -= ClassSize(index);
    return block;
  }
  return std::malloc(ClassSize(index));
}

void OpenSslRelease(void* block, const char* /*file*/, int /*line*/) {
  if (block == nullptr) return;
  const size_t usable = malloc_usable_size(block);
  if (!Cacheable(usable) || cache.dead) return std::free(block);
  // Any block at least a class's size can serve that class, whoever asked for it.
  const size_t index = usable >= kLargest ? kClasses - 1 : (usable - kSmallest) / kGranule;
  if (cache.bytes + ClassSize(index) > kThreadBudget) return std::free(block);
  drain.Arm();
  std::memcpy(block, &cache.heads[index], sizeof(void*));
  cache.heads[index] = block;
  cache.bytes += ClassSize(index);
}

void* OpenSslReallocate(void* block, size_t size, const char* file, int line) {
  if (block == nullptr) return OpenSslAllocate(size, file, line);
  if (size == 0) {
    OpenSslRelease(block, file, line);
    return nullptr;
  }
  const size_t usable = malloc_usable_size(block);
  if (size <= usable) return block;
  const bool pooled = size >= kSmallest && size <= kLargest;
  if (!pooled && !Cacheable(usable)) return std::realloc(block, size);
  void* moved = OpenSslAllocate(size, file, line);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, block, usable);
  OpenSslRelease(block, file, line);
  return moved;
}

size_t OpenSslCachedBytes() { return cache.bytes; }

bool InstallOpenSslAllocator() {
  return CRYPTO_set_mem_functions(&OpenSslAllocate, &OpenSslReallocate, &OpenSslRelease) == 1;
}

}  // namespace moat::tls
