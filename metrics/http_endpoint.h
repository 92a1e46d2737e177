// What an HTTP endpoint on its own thread needs whatever it serves (the metrics endpoint,
// the admin API): one io_context and its thread, the acceptor, a cap on open connections
// (past it a new connection is closed at once, so a caller sees the refusal instead of
// waiting behind held ones) and a Stop() that closes every connection and joins.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "absl/status/statusor.h"

namespace moat::metrics {

class HttpEndpoint {
 public:
  // Serves one accepted connection, on the endpoint's thread; Stop() closes `stream`
  // under it.
  using Handler = std::function<boost::asio::awaitable<void>(boost::beast::tcp_stream& stream)>;

  // `on_connection_limit`, if given, is told (on the endpoint's thread) of each connection
  // closed for being over `max_connections`.
  HttpEndpoint(size_t max_connections, Handler handler,
               std::function<void()> on_connection_limit = {});
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;
  ~HttpEndpoint();  // Stop()

  // Binds host:port (metrics::ListenOn); `what` names the endpoint in errors. Returns the
  // bound port.
  absl::StatusOr<uint16_t> Listen(const std::string& host, uint16_t port, std::string_view what);
  // Starts accepting on the endpoint's own thread.
  void Run();
  // Closes the listener and every connection, then joins the thread. Idempotent.
  void Stop();

  uint16_t port() const { return port_; }
  // On the endpoint's thread: Stop() has begun; a handler ends what it is doing.
  bool stopping() const { return stopping_; }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  const size_t max_connections_;
  const Handler handler_;
  const std::function<void()> on_connection_limit_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::unordered_set<boost::beast::tcp_stream*> streams_;  // the endpoint thread's only
  size_t active_ = 0;
  bool stopping_ = false;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace moat::metrics
