#include "proxy/net/proxy_header_reader.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace moat::net {

namespace asio = boost::asio;

asio::awaitable<proxy_protocol::ParseResult> ReadProxyHeader(
    asio::ip::tcp::socket& socket, proxy_protocol::ProxyProtocolVersionAllowed allowed) {
  std::array<uint8_t, proxy_protocol::kMaxHeaderSize> peeked;
  asio::steady_timer pause(socket.get_executor());
  ssize_t seen = -1;
  for (;;) {
    co_await socket.async_wait(asio::ip::tcp::socket::wait_read, asio::use_awaitable);
    const ssize_t n = ::recv(socket.native_handle(), peeked.data(), peeked.size(), MSG_PEEK);
    if (n == 0) throw boost::system::system_error(asio::error::eof);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw boost::system::system_error(errno, boost::system::system_category());
    }
    auto result =
        proxy_protocol::ParseProxyHeader({peeked.data(), static_cast<size_t>(n)}, allowed);
    if (result.status == proxy_protocol::ParseStatus::kError) co_return result;
    if (result.status == proxy_protocol::ParseStatus::kDone) {
      // Consume exactly the header; the peek proved these bytes are there.
      size_t left = result.consumed;
      while (left > 0) {
        const ssize_t taken = ::recv(socket.native_handle(), peeked.data(), left, 0);
        if (taken <= 0) throw boost::system::system_error(asio::error::eof);
        left -= static_cast<size_t>(taken);
      }
      co_return result;
    }
    // A partial header stays readable, so waiting for readability again would spin:
    // give the rest of it a moment to arrive instead.
    if (n == seen) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(asio::use_awaitable);
    }
    seen = n;
  }
}

}  // namespace moat::net
