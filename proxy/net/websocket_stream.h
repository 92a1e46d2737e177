// MQTT over WebSocket (MQTT 5.0 section 6): the HTTP upgrade on a listener's path with
// the "mqtt" subprotocol, then binary frames carrying the MQTT byte stream. Frame and
// packet boundaries are independent, as the spec allows; text frames are refused
// [MQTT-6.0.0-1]. A listener may name the browser origins allowed to upgrade.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "proxy/net/byte_stream.h"

namespace moat::net {

struct WebSocketOptions {
  std::string path = "/mqtt";
  // The Origin values (config::NormalizeOrigin() form) a browser page may upgrade from;
  // empty: any. The check guards against a page on another site using a visitor's
  // browser, and its place in the network, to reach the listener: browsers always send
  // Origin and scripts cannot forge it, while other clients send none and could put
  // anything there. So a request without Origin passes; one with two does not.
  std::span<const std::string> allowed_origins{};
};

// Why moat refused an upgrade, as opposed to the client leaving or the connection failing.
enum class UpgradeRefusal : uint8_t {
  kNone,
  kBadRequest,  // not an MQTT WebSocket upgrade on the listener's path: answered 400,
                // 404 or 426, or closed unanswered (headers over 8 KiB, not HTTP)
  kOrigin,      // an Origin the listener does not list: answered 403
};

// What the accept functions tell the caller besides the stream, for metrics and audit.
struct UpgradeReport {
  UpgradeRefusal refusal = UpgradeRefusal::kNone;
  // The refused request's Origin header(s), client-chosen bytes made safe for a log line:
  // bytes outside printable ASCII, quotes and backslashes as \xNN, cut after
  // kMaxReportedOrigin bytes.
  std::string origin;
};

inline constexpr size_t kMaxReportedOrigin = 128;

// `ws`: upgrades a plain TCP connection. Throws on a refused request (after answering
// it with 400, 403 or 404; `report` says why) and on I/O errors; the caller bounds the
// time it may take.
boost::asio::awaitable<std::unique_ptr<ByteStream>> AcceptWebSocket(
    boost::asio::ip::tcp::socket socket, const WebSocketOptions& options, UpgradeReport& report);

// `wss`: TLS handshake with `tls_context`, then the upgrade.
boost::asio::awaitable<std::unique_ptr<ByteStream>> AcceptSecureWebSocket(
    boost::asio::ip::tcp::socket socket, SSL_CTX* tls_context, const WebSocketOptions& options,
    UpgradeReport& report);

}  // namespace moat::net
