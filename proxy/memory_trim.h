// Gives memory freed by a burst of closed connections back to the system.
//
// glibc keeps what a closed connection freed in its heap (each worker thread has its
// own arena). After thousands of connections close at once that heap is large and full
// of holes, and every later malloc pays for searching it: on this machine TLS handshakes
// cost about a third more CPU until it is trimmed. HAProxy trims its pools for the same
// reason.
#pragma once

#include <cstdint>

namespace moat::proxy {

// Watches one worker's connection count and trims the heap once it has fallen to half
// of its peak, by at least a few thousand connections. Single-threaded.
class BurstTrimmer {
 public:
  // Small churn is what the heap is for; only a burst leaves a heap worth trimming.
  static constexpr uint64_t kBurst = 2000;

  // `trim` gives the memory back (malloc_trim by default; tests count the calls).
  explicit BurstTrimmer(void (*trim)() = &TrimHeap) : trim_(trim) {}

  void Opened(uint64_t open);
  void Closed(uint64_t open);

  // Every arena, this thread's included: a few milliseconds, once per burst.
  static void TrimHeap();

 private:
  void (*trim_)();
  uint64_t peak_ = 0;
};

}  // namespace moat::proxy
