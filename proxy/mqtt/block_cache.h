// A few read-chunk-sized blocks kept per thread for the decoders to reuse. A connection
// frees its buffer whenever it goes quiet and takes one again when bytes arrive, and
// glibc's malloc is slow at that for 16 KiB blocks on a fragmented heap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace moat::mqtt {

class BlockCache {
 public:
  // The one size cached: what a read chunk asks of an empty buffer (net::kReadChunkSize).
  static constexpr size_t kBlockSize = 16 * 1024;
  // At most this many blocks are kept: 256 KiB per thread.
  static constexpr size_t kMaxBlocks = 16;

  BlockCache() = default;
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The calling thread's cache.
  static BlockCache& ForThisThread();

  // A block of `size` bytes (from new[]): a cached one when there is one of that size.
  uint8_t* Take(size_t size);
  // Keeps `block` (of `size` bytes, from Take or new[]) for reuse, or deletes it.
  void Give(uint8_t* block, size_t size);

  size_t cached() const { return count_; }

 private:
  std::array<uint8_t*, kMaxBlocks> blocks_{};
  size_t count_ = 0;
};

}  // namespace moat::mqtt
