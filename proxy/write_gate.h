// Serialises writes to one stream from the coroutines of one session (asio allows one
// write in flight per socket). Single-threaded: the session's coroutines share a thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace moat::proxy {

class WriteGate {
 public:
  explicit WriteGate(const boost::asio::any_io_executor& executor) : wake_(executor) {}

  boost::asio::awaitable<void> Lock() {
    while (busy_) {
      // Only arm once: re-arming would cancel the other waiters' waits.
      if (wake_.expiry() != boost::asio::steady_timer::time_point::max()) {
        wake_.expires_at(boost::asio::steady_timer::time_point::max());
      }
      co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      // The wake-up may be the session being torn down rather than an Unlock().
      auto state = co_await boost::asio::this_coro::cancellation_state;
      if (state.cancelled() != boost::asio::cancellation_type::none) {
        throw boost::system::system_error(boost::asio::error::operation_aborted);
      }
    }
    busy_ = true;
  }

  void Unlock() {
    busy_ = false;
    wake_.cancel();
  }

 private:
  bool busy_ = false;
  boost::asio::steady_timer wake_;
};

// Unlocks on every way out of a scope, exceptions included.
class GateLock {
 public:
  explicit GateLock(WriteGate& gate) : gate_(gate) {}
  ~GateLock() { gate_.Unlock(); }
  GateLock(const GateLock&) = delete;
  GateLock& operator=(const GateLock&) = delete;

 private:
  WriteGate& gate_;
};

}  // namespace moat::proxy
