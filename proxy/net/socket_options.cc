#include "proxy/net/socket_options.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>

namespace moat::net {

void EnableTcpKeepAlive(int fd, std::chrono::seconds idle) {
  if (idle.count() <= 0) return;
  const int on = 1;
  const int idle_seconds = static_cast<int>(idle.count());
  // Probes every tenth of the idle time, six unanswered ones and the peer is gone.
  const int interval = std::max(1, idle_seconds / 10);
  const int probes = 6;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_seconds, sizeof idle_seconds);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

void ResetOnClose(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);
}

}  // namespace moat::net
