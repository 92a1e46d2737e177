#include "proxy/connection_gate.h"

#include <algorithm>
#include <utility>

#include "policy/network.h"

namespace moat::proxy {

ConnectionGate::ConnectionGate(const config::Limits& limits)
    : max_connections_(limits.max_connections),
      max_per_source_(limits.max_connections_per_address),
      rate_(limits.connection_rate_per_address),
      burst_(limits.connection_burst_per_address) {}

void ConnectionGate::SetLimits(const config::Limits& limits) {
  max_connections_.store(limits.max_connections, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  max_per_source_ = limits.max_connections_per_address;
  rate_ = limits.connection_rate_per_address;
  burst_ = limits.connection_burst_per_address;
}

ConnectionGate::Ticket::Ticket(Ticket&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)), source_(std::exchange(other.source_, nullptr)) {}

ConnectionGate::Ticket& ConnectionGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (gate_ != nullptr) gate_->Release(*this);
    gate_ = std::exchange(other.gate_, nullptr);
    source_ = std::exchange(other.source_, nullptr);
  }
  return *this;
}

ConnectionGate::Ticket::~Ticket() {
  if (gate_ != nullptr) gate_->Release(*this);
}

std::optional<metrics::ConnectionRefusal> ConnectionGate::Open(Ticket& ticket) {
  // Reserve first, then check: two threads can never both take the last place.
  if (open_.fetch_add(1, std::memory_order_relaxed) >=
      max_connections_.load(std::memory_order_relaxed)) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    return metrics::ConnectionRefusal::kMaxConnections;
  }
  ticket.gate_ = this;
  return std::nullopt;
}

std::optional<metrics::ConnectionRefusal> ConnectionGate::AdmitSource(Ticket& ticket,
                                                                      std::string_view address,
                                                                      Clock::time_point now) {
  const std::string key = policy::SourceKey(address);
  std::lock_guard lock(mutex_);
  if (sources_.size() >= prune_at_) Prune(now);
  auto [it, inserted] = sources_.try_emplace(key);
  Source& source = it->second;
  if (inserted) {
    source.tokens = burst_;
    source.refilled = now;
  } else {
    const double elapsed = std::chrono::duration<double>(now - source.refilled).count();
    source.tokens = std::min(burst_, source.tokens + elapsed * rate_);
    source.refilled = now;
  }
  if (source.open >= max_per_source_) return metrics::ConnectionRefusal::kAddressConnections;
  if (source.tokens < 1) return metrics::ConnectionRefusal::kAddressRate;
  source.tokens -= 1;
  ++source.open;
  ticket.source_ = &source;
  return std::nullopt;
}

void ConnectionGate::Release(Ticket& ticket) {
  if (ticket.source_ != nullptr) {
    std::lock_guard lock(mutex_);
    --ticket.source_->open;
  }
  open_.fetch_sub(1, std::memory_order_relaxed);
  ticket.gate_ = nullptr;
  ticket.source_ = nullptr;
}

void ConnectionGate::Prune(Clock::time_point now) {
  std::erase_if(sources_, [&](const auto& entry) {
    const Source& source = entry.second;
    const double elapsed = std::chrono::duration<double>(now - source.refilled).count();
    return source.open == 0 && source.tokens + elapsed * rate_ >= burst_;
  });
  // What is left is in use: look again only once as many more have come.
  prune_at_ = std::max<size_t>(1024, sources_.size() * 2);
}

size_t ConnectionGate::sources() const {
  std::lock_guard lock(mutex_);
  return sources_.size();
}

}  // namespace moat::proxy
