// The bounded worker pool every expensive login check runs on: password hashing (PBKDF2,
// SHA-512 crypt) and bearer token signatures. Never an I/O thread, so a reconnect storm
// slows logins, not traffic; and never more than `max_pending` checks queued, so a flood
// is answered "busy" instead of holding memory.
#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>

namespace moat::proxy {

class AuthPool {
 public:
  // `threads` 0: one per core moat may use (proxy/cpu_budget.h).
  AuthPool(int threads, size_t max_pending);
  ~AuthPool() { Join(); }
  AuthPool(const AuthPool&) = delete;
  AuthPool& operator=(const AuthPool&) = delete;

  // Waits for the checks under way; the pool takes no more.
  void Join() { pool_.join(); }

  // Runs `work` on the pool and resumes the caller on its own executor with the result;
  // nullopt, having run nothing, when `max_pending` checks are already waiting. `work` is
  // referenced, not copied: it lives in the caller's frame until the result is back.
  template <typename Work>
  boost::asio::awaitable<std::optional<std::invoke_result_t<Work&>>> Run(Work& work) {
    using Result = std::invoke_result_t<Work&>;
    namespace asio = boost::asio;
    if (pending_.fetch_add(1) >= max_pending_) {
      pending_.fetch_sub(1);
      co_return std::nullopt;
    }
    Result result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result)>(
        [this, &work](auto handler) {
          asio::post(pool_, [&work, handler = std::move(handler)]() mutable {
            Result done = work();
            const auto executor = asio::get_associated_executor(handler);
            asio::post(executor, [handler = std::move(handler), done = std::move(done)]() mutable {
              std::move(handler)(std::move(done));
            });
          });
        },
        asio::use_awaitable);
    pending_.fetch_sub(1);
    std::optional<Result> out(std::move(result));
    co_return out;
  }

 private:
  const size_t max_pending_;
  boost::asio::thread_pool pool_;
  std::atomic<size_t> pending_{0};
};

}  // namespace moat::proxy
