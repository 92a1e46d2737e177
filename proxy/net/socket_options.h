// Socket options moat sets on both links.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>

namespace moat::net {

// Turns TCP keep-alive on (`idle` before the first probe; 0 leaves it off), so a peer that
// vanished without a FIN or RST is noticed even when nothing is being sent.
void EnableTcpKeepAlive(boost::asio::ip::tcp::socket& socket, std::chrono::seconds idle);

}  // namespace moat::net
