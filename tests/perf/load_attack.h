// mqtt_load attack: the hostile mix of run_hostile_benchmark.py, from the --bind address
// (one address: what per-address limits and bans are for), for --seconds; then it stops
// by itself and prints what it did as one JSON line.
//
//   trickle  --trickle N TLS connections, each sending a CONNECT fixed header announcing
//            --trickle-announce bytes (a 16 MiB packet, the default limit) and then
//            --trickle-bytes of its body every --trickle-interval s, never finishing it.
//            A connection the proxy closes is opened again, so N stay open; at most
//            --concurrency (64) are opening at a time
//   stall    --stall N connections that stop in the TLS handshake: the even ones after
//            sending a ClientHello (the server's key exchange and signature done for
//            nothing), the odd ones after the TCP handshake; reopened when closed
//   garbage  --garbage loops: connect, send 4 KiB of random bytes, wait for the close
//   flood    --flood loops, as fast as they can: connect, TLS handshake, one bad CONNECT
//            (--flood-packet malformed: reserved flag set, which no ban counts;
//            anonymous: no credentials, a login failure that bans do count; none), close
//
// The flood and garbage close with a RST (no TIME_WAIT on either side, as a real flood
// would). A step that fails (connect refused, proxy gone) is retried after a back-off
// from 10 ms to 1 s, so a dead proxy costs the attacker no CPU. Counts, a per-second
// timeline of open trickle connections and the attacker's own CPU time go in the JSON.
#pragma once

#include "load_options.h"

namespace mqtt_load {

int RunAttack(const Options& options);

}  // namespace mqtt_load
