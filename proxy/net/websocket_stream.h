// MQTT over WebSocket (MQTT 5.0 section 6): the HTTP upgrade on a listener's path with
// the "mqtt" subprotocol, then binary frames carrying the MQTT byte stream. Frame and
// packet boundaries are independent, as the spec allows; text frames are refused
// [MQTT-6.0.0-1].
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "proxy/net/byte_stream.h"

namespace moat::net {

struct WebSocketOptions {
  std::string path = "/mqtt";
};

// `ws`: upgrades a plain TCP connection. Throws on a bad request (after answering it
// with 400 or 404) and on I/O errors; the caller bounds the time it may take.
boost::asio::awaitable<std::unique_ptr<ByteStream>> AcceptWebSocket(
    boost::asio::ip::tcp::socket socket, const WebSocketOptions& options);

// `wss`: TLS handshake with `tls_context`, then the upgrade.
boost::asio::awaitable<std::unique_ptr<ByteStream>> AcceptSecureWebSocket(
    boost::asio::ip::tcp::socket socket, SSL_CTX* tls_context, const WebSocketOptions& options);

}  // namespace moat::net
