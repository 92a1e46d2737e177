// Ends the readiness waits that might never end by themselves.
//
// After a short read (net::IoResult::drained) the relay waits for readability without
// first reading again only to hear EAGAIN: a system call saved on every wake-up. But a
// FIN that arrived together with the data is then never seen: edge-triggered readiness
// already fired for it, and the read that would return 0 is the one skipped. Such a
// client's session, and its Will, would stay until keep-alive ran out, or forever with
// keep-alive 0. So every relay that starts such a wait joins this sweep; one timer per
// thread, running only while someone is waiting, makes each of them read once more
// (Recheck), and an idle relay is swept once and never again.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>

namespace moat::proxy {

class ShortReadSweep {
 public:
  // Leaves the sweep by itself when destroyed.
  class Member : public boost::intrusive::list_base_hook<
                     boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
   public:
    // Waits that began after a short read are to end now (operation_aborted) and read
    // again.
    virtual void Recheck() = 0;

   protected:
    ~Member() = default;
  };

  // How long a FIN may go unseen at most; also how often a busy relay reads once more.
  static constexpr std::chrono::milliseconds kPeriod{100};

  explicit ShortReadSweep(const boost::asio::any_io_executor& executor);

  // Joins the next sweep (once, however often it is called before it).
  void Add(Member& member);
  // Rechecks every member now; the timer calls it, tests may too.
  void Sweep();

 private:
  using Members = boost::intrusive::list<Member, boost::intrusive::constant_time_size<false>>;

  Members members_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
};

}  // namespace moat::proxy
