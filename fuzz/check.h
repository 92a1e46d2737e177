// How every harness reports a broken invariant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <span>

namespace moat::fuzz {

// Aborts so libFuzzer saves the input; the message says which invariant broke and
// shows the packets involved, so a report needs no debugger.
inline void Check(bool ok, const char* invariant,
                  std::initializer_list<std::span<const uint8_t>> packets = {}) {
  if (ok) return;
  std::fprintf(stderr, "moat fuzz invariant violated: %s\n", invariant);
  for (std::span<const uint8_t> bytes : packets) {
    std::fprintf(stderr, "  packet (%zu bytes):", bytes.size());
    for (uint8_t byte : bytes) std::fprintf(stderr, " %02x", byte);
    std::fprintf(stderr, "\n");
  }
  std::abort();
}

}  // namespace moat::fuzz
