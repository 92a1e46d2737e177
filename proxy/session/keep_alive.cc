#include "proxy/session/keep_alive.h"

namespace moat::proxy {

namespace {

class RealClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

const Clock& SteadyClock() {
  static const RealClock clock;
  return clock;
}

std::optional<SteadyTime> KeepAlive::Deadline() const {
  if (interval_.count() == 0) return std::nullopt;
  // Whole milliseconds: 1.5 x an odd number of seconds is not whole seconds.
  return heard_ + std::chrono::duration_cast<std::chrono::milliseconds>(interval_) * 3 / 2;
}

bool KeepAlive::Expired(SteadyTime now) const {
  const std::optional<SteadyTime> deadline = Deadline();
  return deadline && now >= *deadline;
}

}  // namespace moat::proxy
