// asio's `a || b` waits for the first branch to *succeed*: a branch that throws does not
// cancel the other, so a connection reset would leave a session waiting on its
// keep-alive timer. Every branch of a race therefore runs through Catching(), which
// turns an error into a normal completion and hands the error code to the caller.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <utility>

namespace moat::net {

template <typename T>
boost::asio::awaitable<T> Catching(boost::asio::awaitable<T> operation,
                                   boost::system::error_code& error) {
  try {
    co_return co_await std::move(operation);
  } catch (const boost::system::system_error& e) {
    error = e.code();
    co_return T{};
  }
}

inline boost::asio::awaitable<void> Catching(boost::asio::awaitable<void> operation,
                                             boost::system::error_code& error) {
  try {
    co_await std::move(operation);
  } catch (const boost::system::system_error& e) {
    error = e.code();
  }
}

}  // namespace moat::net
