// Per-thread counters a session bumps; read by the metrics endpoint. Plain integers:
// each thread owns its own instance, so the hot path takes no lock and no atomic RMW.
#pragma once

#include <atomic>
#include <cstdint>

namespace moat::proxy {

struct SessionStats {
  // Relaxed atomics written by one thread only: a load/store pair, no lock prefix.
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> upstream_unavailable{0};
  std::atomic<uint64_t> denials{0};
  std::atomic<uint64_t> malformed_from_client{0};
  std::atomic<uint64_t> malformed_from_broker{0};
  std::atomic<uint64_t> packets_from_client{0};
  std::atomic<uint64_t> packets_from_broker{0};
  std::atomic<uint64_t> bytes_from_client{0};
  std::atomic<uint64_t> bytes_from_broker{0};

  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void Add(std::atomic<int64_t>& gauge, int64_t n) {
    gauge.store(gauge.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

}  // namespace moat::proxy
