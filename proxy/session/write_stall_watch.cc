#include "proxy/session/write_stall_watch.h"

namespace moat::proxy {

WriteStallWatch::WriteStallWatch(const boost::asio::any_io_executor& executor, const Clock& clock)
    : clock_(clock), timer_(executor) {}

void WriteStallWatch::Watch(Member& member) {
  if (!member.Hook::is_linked()) members_.push_back(member);
  Arm();
}

void WriteStallWatch::Arm() {
  if (armed_ || members_.empty()) return;
  armed_ = true;
  timer_.expires_after(kPeriod);
  timer_.async_wait([this](const boost::system::error_code& error) {
    armed_ = false;
    if (!error) Check();
  });
}

void WriteStallWatch::Check() {
  const SteadyTime now = clock_.Now();
  for (auto it = members_.begin(); it != members_.end();) {
    Member& member = *it++;  // it may leave
    member.CheckStall(now);
  }
  Arm();
}

}  // namespace moat::proxy
