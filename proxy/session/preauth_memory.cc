#include "proxy/session/preauth_memory.h"

namespace moat::proxy {

PreauthQueue::PreauthQueue(PreauthMemory& memory, metrics::ThreadCounters& counters)
    : memory_(memory), counters_(counters) {}

PreauthQueue::~PreauthQueue() {
  while (!members_.empty()) Leave(members_.front());
}

void PreauthQueue::Join(Member& member) {
  if (!member.is_linked()) members_.push_back(member);
}

void PreauthQueue::Set(Member& member, uint64_t bytes) {
  const auto delta = static_cast<int64_t>(bytes) - static_cast<int64_t>(member.held_);
  if (delta == 0) return;
  memory_.held_.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
  counters_.GaugeAdd<metrics::Metric::kPreauthMemoryBytes>(delta);
  member.held_ = bytes;
}

void PreauthQueue::Charge(Member& member, uint64_t bytes) {
  Set(member, bytes);
  // Evicting ends an admission later (its read fails); what it held is given back now.
  for (auto it = members_.begin(); it != members_.end() && memory_.held() > memory_.cap();) {
    Member& oldest = *it++;
    if (oldest.held_ == 0) continue;
    Leave(oldest);
    oldest.Evict();
  }
}

void PreauthQueue::Leave(Member& member) {
  Set(member, 0);
  member.unlink();
}

}  // namespace moat::proxy
