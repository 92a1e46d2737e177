// Ends relays whose peer has taken nothing of what moat had for it for
// limits.write_timeout: a subscriber that stopped reading would otherwise hold its
// session, its broker link and a full outbox for ever. Relays join when a write would
// block and leave when the peer takes bytes again; one timer per thread, running only
// while someone is stalled, looks at them about once a second, so a write that blocks
// costs a list link rather than a timer.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>

#include "proxy/session/keep_alive.h"

namespace moat::proxy {

class WriteStallWatch {
 public:
  struct Tag;
  using Hook =
      boost::intrusive::list_base_hook<boost::intrusive::tag<Tag>,
                                       boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
  // Leaves the watch by itself when destroyed.
  class Member : public Hook {
   public:
    // Ends itself if a peer has been stalled too long; may leave the watch.
    virtual void CheckStall(SteadyTime now) = 0;

   protected:
    ~Member() = default;
  };

  static constexpr std::chrono::milliseconds kPeriod{1000};

  WriteStallWatch(const boost::asio::any_io_executor& executor, const Clock& clock);

  void Watch(Member& member);
  static void Unwatch(Member& member) { member.Hook::unlink(); }
  // Checks every member now; the timer calls it, tests may too.
  void Check();

 private:
  using Members = boost::intrusive::list<Member, boost::intrusive::base_hook<Hook>,
                                         boost::intrusive::constant_time_size<false>>;
  void Arm();

  const Clock& clock_;
  Members members_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
};

}  // namespace moat::proxy
