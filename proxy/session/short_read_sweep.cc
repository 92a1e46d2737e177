#include "proxy/session/short_read_sweep.h"

namespace moat::proxy {

ShortReadSweep::ShortReadSweep(const boost::asio::any_io_executor& executor) : timer_(executor) {}

void ShortReadSweep::Add(Member& member) {
  if (member.is_linked()) return;
  members_.push_back(member);
  if (armed_) return;
  armed_ = true;
  timer_.expires_after(kPeriod);
  timer_.async_wait([this](const boost::system::error_code& error) {
    armed_ = false;
    if (!error) Sweep();
  });
}

void ShortReadSweep::Sweep() {
  // Members re-join as they wait again after another short read: take the list first.
  Members due;
  due.splice(due.end(), members_);
  while (!due.empty()) {
    Member& member = due.front();
    due.pop_front();
    member.Recheck();
  }
}

}  // namespace moat::proxy
