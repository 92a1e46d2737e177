// Which upstream server a new client goes to, as pure functions of what the pool knows:
// the servers' names, which are up, their open links, a turn counter. No clock, no
// locks, so each choice is unit-tested as it is made.
//
//   client_id:          highest random weight: the same id reaches the same server while
//                       it is up; when one goes down only its own clients move
//   round_robin:        the next server up after the last one given
//   least_connections:  the server up with the fewest open links (ties: config order
//                       from a rotating start, so ties spread)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace moat::proxy {

// The weight of `server` for `key`: a fixed 64-bit hash (FNV-1a, then a SplitMix64
// finish), the same in every moat process and version, so that replicas in front of one
// cluster agree on where a client id belongs.
uint64_t RendezvousWeight(std::string_view server, std::string_view key);

// The index of the server up with the highest weight for `key`; nullopt when none is up.
// `servers` and `up` are parallel.
std::optional<size_t> PickByKey(std::string_view key, std::span<const std::string_view> servers,
                                std::span<const bool> up);

// The first server up at or after `turn` (modulo the count); nullopt when none is up.
std::optional<size_t> PickRoundRobin(uint64_t turn, std::span<const bool> up);

// The server up with the fewest `links`, ties broken by the first at or after `turn`.
std::optional<size_t> PickLeastConnections(uint64_t turn, std::span<const int64_t> links,
                                           std::span<const bool> up);

// How long a server stays down after its `failures`-th failure in a row (1-based) before
// the next probe: `first`, doubling, never more than `cap`.
std::chrono::milliseconds ProbeBackoff(uint32_t failures, std::chrono::milliseconds first,
                                       std::chrono::milliseconds cap);

}  // namespace moat::proxy
