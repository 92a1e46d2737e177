// Gives memory freed by a burst of connections back to the system.
//
// glibc keeps what a closed connection freed in its heap. After thousands of connections
// close at once that heap is large and full of holes, and every later malloc pays for
// searching it: TLS handshakes cost about a third more CPU until it is trimmed.
// HAProxy trims its pools for the same reason.
#pragma once

namespace moat::proxy {

// Trims the heap when at least half of it, and at least 16 MiB, is free; otherwise does
// nothing, so that calling it every few seconds costs nothing on a steady load. Returns
// whether it trimmed.
bool TrimFreedMemory();

}  // namespace moat::proxy
