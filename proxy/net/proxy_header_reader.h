// Takes a PROXY protocol header off a freshly accepted socket without taking a byte
// more: it peeks, parses, and only then consumes exactly the header, so the TLS
// handshake or the MQTT stream that follows starts untouched.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxy/proxy_protocol/proxy_protocol.h"

namespace moat::net {

// Completes with kDone or kError; throws on socket errors and end of stream.
boost::asio::awaitable<proxy_protocol::ParseResult> ReadProxyHeader(
    boost::asio::ip::tcp::socket& socket, proxy_protocol::ProxyProtocolVersionAllowed allowed);

}  // namespace moat::net
