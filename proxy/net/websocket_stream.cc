#include "proxy/net/websocket_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <type_traits>

#include "proxy/mqtt/decoder.h"
#include "proxy/net/catching.h"
#include "proxy/net/plain_stream.h"

namespace moat::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr size_t kMaxRequestHeaderSize = 8 * 1024;

template <typename NextLayer>
class WebSocketStream final : public ByteStream {
 public:
  explicit WebSocketStream(websocket::stream<NextLayer> ws) : ws_(std::move(ws)) {}

  asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) override {
    for (;;) {
      const auto space = decoder.PrepareWrite(kReadChunkSize);
      auto [ec, n] = co_await ws_.async_read_some(asio::buffer(space.data(), space.size()),
                                                  asio::as_tuple(asio::use_awaitable));
      if (ec == websocket::error::closed) co_return 0;
      if (ec) throw boost::system::system_error(ec);
      if (ws_.got_text()) {
        throw boost::system::system_error(websocket::error::bad_data_frame);
      }
      decoder.CommitWrite(n);
      if (n > 0) co_return n;  // an empty binary frame is not the end of the stream
    }
  }

  asio::awaitable<void> WriteAll(std::span<const asio::const_buffer> buffers) override {
    co_await ws_.async_write(buffers, asio::use_awaitable);
  }

  asio::awaitable<void> Shutdown() override {
    // A close frame, but no waiting on a peer that never answers it.
    boost::system::error_code ignored;
    asio::steady_timer deadline(co_await asio::this_coro::executor, std::chrono::seconds(1));
    co_await (
        Catching(ws_.async_close(websocket::close_code::normal, asio::use_awaitable), ignored) ||
        deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    Close();
  }

  void Close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }

  X509* PeerCertificate() const override {
    if constexpr (std::is_same_v<NextLayer, asio::ssl::stream<tcp::socket>>) {
      SSL* ssl = const_cast<websocket::stream<NextLayer>&>(ws_).next_layer().native_handle();
      if (SSL_get_verify_result(ssl) != X509_V_OK) return nullptr;
      return SSL_get0_peer_certificate(ssl);
    } else {
      return nullptr;
    }
  }

  std::string PeerAddress() const override {
    boost::system::error_code ec;
    const auto endpoint = beast::get_lowest_layer(ws_).remote_endpoint(ec);
    return ec ? "unknown" : FormatEndpoint(endpoint);
  }

 private:
  websocket::stream<NextLayer> ws_;
};

// The subprotocol to answer with: "mqtt" [MQTT-6.0.0-3], or the "mqttv3.1" that old
// 3.1 clients offer and mosquitto accepts.
std::string ChooseSubprotocol(std::string_view offered) {
  std::string chosen;
  size_t start = 0;
  while (start <= offered.size()) {
    size_t end = offered.find(',', start);
    if (end == std::string_view::npos) end = offered.size();
    std::string_view token = offered.substr(start, end - start);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token == "mqtt") return "mqtt";
    if (token == "mqttv3.1" && chosen.empty()) chosen = "mqttv3.1";
    start = end + 1;
  }
  return chosen;
}

template <typename NextLayer>
asio::awaitable<void> Reject(NextLayer& next, http::status status, unsigned version) {
  http::response<http::string_body> response{status, version};
  response.set(http::field::server, "moat");
  response.set(http::field::connection, "close");
  response.body() = std::string(http::obsolete_reason(status)) + "\n";
  response.prepare_payload();
  auto [ec, n] = co_await http::async_write(next, response, asio::as_tuple(asio::use_awaitable));
  (void)ec, (void)n;
  throw boost::system::system_error(asio::error::connection_refused);
}

template <typename NextLayer>
asio::awaitable<std::unique_ptr<ByteStream>> Upgrade(websocket::stream<NextLayer> ws,
                                                     const WebSocketOptions& options) {
  beast::flat_buffer buffer(kMaxRequestHeaderSize);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxRequestHeaderSize);
  co_await http::async_read(ws.next_layer(), buffer, parser, asio::use_awaitable);
  const auto& request = parser.get();
  std::string_view target(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));
  if (target != options.path) {
    co_await Reject(ws.next_layer(), http::status::not_found, request.version());
  }
  const auto offered = request[http::field::sec_websocket_protocol];
  const std::string subprotocol = ChooseSubprotocol({offered.data(), offered.size()});
  if (!websocket::is_upgrade(request) || subprotocol.empty()) {
    co_await Reject(ws.next_layer(), http::status::bad_request, request.version());
  }
  ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& r) {
    r.set(http::field::sec_websocket_protocol, subprotocol);
    r.set(http::field::server, "moat");
  }));
  ws.binary(true);
  // The codec bounds each MQTT packet; one WebSocket message may carry a whole session.
  ws.read_message_max(0);
  co_await ws.async_accept(request, asio::use_awaitable);
  co_return std::make_unique<WebSocketStream<NextLayer>>(std::move(ws));
}

}  // namespace

asio::awaitable<std::unique_ptr<ByteStream>> AcceptWebSocket(tcp::socket socket,
                                                             const WebSocketOptions& options) {
  socket.set_option(tcp::no_delay(true));
  co_return co_await Upgrade(websocket::stream<tcp::socket>(std::move(socket)), options);
}

asio::awaitable<std::unique_ptr<ByteStream>> AcceptSecureWebSocket(
    tcp::socket socket, SSL_CTX* tls_context, const WebSocketOptions& options) {
  socket.set_option(tcp::no_delay(true));
  SSL* ssl = SSL_new(tls_context);
  if (ssl == nullptr) throw boost::system::system_error(asio::error::no_memory);
  // The stream's engine owns `ssl` from here on.
  websocket::stream<asio::ssl::stream<tcp::socket>> ws(std::move(socket), ssl);
  co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
  co_return co_await Upgrade(std::move(ws), options);
}

}  // namespace moat::net
