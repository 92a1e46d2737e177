#include "metrics/http_endpoint.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "metrics/http_listen.h"

namespace moat::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

HttpEndpoint::HttpEndpoint(size_t max_connections, Handler handler,
                           std::function<void()> on_connection_limit)
    : max_connections_(max_connections),
      handler_(std::move(handler)),
      on_connection_limit_(std::move(on_connection_limit)) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

absl::StatusOr<uint16_t> HttpEndpoint::Listen(const std::string& host, uint16_t port,
                                              std::string_view what) {
  absl::StatusOr<uint16_t> bound = ListenOn(acceptor_, host, port, what);
  if (bound.ok()) port_ = *bound;
  return bound;
}

void HttpEndpoint::Run() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void HttpEndpoint::Stop() {
  if (stopped_.exchange(true)) return;
  asio::post(io_, [this] {
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (beast::tcp_stream* stream : streams_) stream->close();
  });
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> HttpEndpoint::AcceptLoop() {
  constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
  asio::steady_timer backoff(io_);
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
    if (stopping_ || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors: wait for some to be freed instead of spinning.
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    // Over the limit the socket closes as it goes out of scope.
    if (active_ >= max_connections_) {
      if (on_connection_limit_) on_connection_limit_();
      continue;
    }
    ++active_;
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpEndpoint::Serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  streams_.insert(&stream);
  struct Release {
    HttpEndpoint& endpoint;
    beast::tcp_stream* stream;
    ~Release() {
      endpoint.streams_.erase(stream);
      --endpoint.active_;
    }
  } release{*this, &stream};
  if (stopping_) co_return;
  co_await handler_(stream);
}

}  // namespace moat::metrics
