// Who may open a connection, decided before any TLS or hashing work is spent on it:
// process-wide, at most limits.max_connections; per source (an IPv4 address, an IPv6 /64),
// at most max_connections_per_address open at once and connection_rate_per_address new
// ones a second (a token bucket with connection_burst_per_address). Shared by every worker
// thread; only accepting and closing connections take its lock, never a packet.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metrics/metric_table.h"
#include "proxy/config/config.h"

namespace moat::proxy {

class ConnectionGate {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ConnectionGate(const config::Limits& limits);
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  struct Source;
  // One connection counted against the limits for as long as it lives.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    explicit operator bool() const { return gate_ != nullptr; }

   private:
    friend class ConnectionGate;
    ConnectionGate* gate_ = nullptr;
    Source* source_ = nullptr;  // set by AdmitSource
  };

  // A new connection, counted process-wide; kMaxConnections when the limit is reached.
  std::optional<metrics::ConnectionRefusal> Open(Ticket& ticket);
  // Counts it against its source: `address` as moat records it (after a PROXY header).
  std::optional<metrics::ConnectionRefusal> AdmitSource(Ticket& ticket, std::string_view address,
                                                        Clock::time_point now);

  // A reload's new limits: for connections opened from now on; none open is closed.
  void SetLimits(const config::Limits& limits);

  uint64_t open() const { return open_.load(std::memory_order_relaxed); }
  size_t sources() const;  // for tests: entries held

 private:
  void Release(Ticket& ticket);
  // Drops sources with nothing open whose bucket has refilled: they carry no state.
  void Prune(Clock::time_point now);

  std::atomic<uint64_t> max_connections_;
  uint32_t max_per_source_;  // these three under mutex_
  double rate_;
  double burst_;
  std::atomic<uint64_t> open_{0};
  mutable std::mutex mutex_;
  // Node-based: tickets point at their entry across rehashes.
  std::unordered_map<std::string, Source> sources_;
  size_t prune_at_ = 1024;
};

struct ConnectionGate::Source {
  uint32_t open = 0;
  double tokens = 0;
  Clock::time_point refilled;
};

}  // namespace moat::proxy
