#include "proxy/upstream_select.h"

#include <algorithm>

namespace moat::proxy {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t Fnv1a(uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

// FNV-1a alone mixes its last bytes poorly; the SplitMix64 finaliser spreads them over
// every bit, so that the highest weight is a fair draw.
uint64_t Finish(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t RendezvousWeight(std::string_view server, std::string_view key) {
  // The length first, so that ("ab", "c") and ("a", "bc") hash apart.
  const uint64_t length = server.size();
  const std::string_view length_bytes(reinterpret_cast<const char*>(&length), sizeof(length));
  return Finish(Fnv1a(Fnv1a(Fnv1a(kFnvOffset, length_bytes), server), key));
}

std::optional<size_t> PickByKey(std::string_view key, std::span<const std::string_view> servers,
                                std::span<const bool> up) {
  std::optional<size_t> best;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < servers.size() && i < up.size(); ++i) {
    if (!up[i]) continue;
    const uint64_t weight = RendezvousWeight(servers[i], key);
    if (!best || weight > best_weight) {
      best = i;
      best_weight = weight;
    }
  }
  return best;
}

std::optional<size_t> PickRoundRobin(uint64_t turn, std::span<const bool> up) {
  const size_t count = up.size();
  for (size_t step = 0; step < count; ++step) {
    const size_t i = static_cast<size_t>((turn + step) % count);
    if (up[i]) return i;
  }
  return std::nullopt;
}

std::optional<size_t> PickLeastConnections(uint64_t turn, std::span<const int64_t> links,
                                           std::span<const bool> up) {
  const size_t count = std::min(links.size(), up.size());
  std::optional<size_t> best;
  for (size_t step = 0; step < count; ++step) {
    const size_t i = static_cast<size_t>((turn + step) % count);
    if (up[i] && (!best || links[i] < links[*best])) best = i;
  }
  return best;
}

std::chrono::milliseconds ProbeBackoff(uint32_t failures, std::chrono::milliseconds first,
                                       std::chrono::milliseconds cap) {
  if (failures <= 1) return std::min(first, cap);
  // Past 2^20 times the first pause every sane cap has been reached; no overflow.
  const uint32_t doublings = std::min<uint32_t>(failures - 1, 20);
  return std::min(first * (int64_t{1} << doublings), cap);
}

}  // namespace moat::proxy
