// The memory that connections which have not logged in yet may hold, all together: a
// client that announces a large CONNECT and trickles it in holds its buffer until the
// login deadline, and a thousand of them could otherwise take an appliance's memory, and
// every honest session with it. Past limits.max_preauth_memory the oldest admissions
// still receiving their CONNECT are closed, never a logged-in session: honest clients
// send their CONNECT at once, so they are rarely the oldest.
//
//   PreauthMemory (process: bytes held, the cap) ◄── PreauthQueue (a thread's admissions,
//                                                    oldest first) ◄── Admission (Member)
#pragma once

#include <atomic>
#include <boost/intrusive/list.hpp>
#include <cstdint>

#include "metrics/registry.h"

namespace moat::proxy {

class PreauthMemory {
 public:
  explicit PreauthMemory(uint64_t cap) : cap_(cap) {}
  uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  // A reload's limits.max_preauth_memory; a lower cap evicts at the next charge.
  void set_cap(uint64_t cap) { cap_.store(cap, std::memory_order_relaxed); }
  uint64_t cap() const { return cap_.load(std::memory_order_relaxed); }

 private:
  friend class PreauthQueue;
  std::atomic<uint64_t> cap_;
  std::atomic<uint64_t> held_{0};
};

class PreauthQueue {
 public:
  // An admission, from accept until it logged in or was refused.
  class Member : public boost::intrusive::list_base_hook<
                     boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
   public:
    // Over the cap: close the client, so the admission ends (with kPreauthMemory).
    virtual void Evict() = 0;
    virtual ~Member() = default;

   private:
    friend class PreauthQueue;
    uint64_t held_ = 0;
  };

  PreauthQueue(PreauthMemory& memory, metrics::ThreadCounters& counters);
  ~PreauthQueue();

  void Join(Member& member);
  // `member` now holds `bytes` (its buffer's capacity). While the process is over its cap,
  // the oldest members on this thread are evicted, `member` itself included if it is.
  void Charge(Member& member, uint64_t bytes);
  // Gives back what `member` held: it logged in or ended.
  void Leave(Member& member);

 private:
  void Set(Member& member, uint64_t bytes);

  using Members = boost::intrusive::list<Member, boost::intrusive::constant_time_size<false>>;
  PreauthMemory& memory_;
  metrics::ThreadCounters& counters_;
  Members members_;  // oldest first
};

}  // namespace moat::proxy
