// Socket options moat sets on both links.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>

namespace moat::net {

// Turns TCP keep-alive on (`idle` before the first probe; 0 leaves it off), so a peer that
// vanished without a FIN or RST is noticed even when nothing is being sent. On a
// listening socket it is set once for every connection accepted from it (Linux copies
// the options and arms the timer at accept): no system call per connection.
void EnableTcpKeepAlive(int fd, std::chrono::seconds idle);

// A connection refused before its first byte is answered with an RST when it is closed:
// no FIN exchange and no TIME_WAIT left behind, so one address reconnecting thousands of
// times a second costs the kernel little (HAProxy rejects the same way).
void ResetOnClose(boost::asio::ip::tcp::socket& socket);

}  // namespace moat::net
