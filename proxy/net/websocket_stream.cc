#include "proxy/net/websocket_stream.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstring>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "proxy/config/websocket_origin.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/net/tls_stream.h"

namespace moat::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxRequestHeaderSize = 8 * 1024;

template <typename NextLayer>
class WebSocketStream final : public ByteStream {
 public:
  explicit WebSocketStream(websocket::stream<NextLayer> ws)
      : state_(std::make_shared<State>(std::move(ws))) {}

  ~WebSocketStream() override { Close(); }

  asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) override {
    for (;;) {
      const auto space = decoder.PrepareWrite(kReadChunkSize);
      auto [ec, n] = co_await ws().async_read_some(asio::buffer(space.data(), space.size()),
                                                   asio::as_tuple(asio::use_awaitable));
      if (ec == websocket::error::closed) co_return 0;
      if (!ec && ws().got_text()) ec = websocket::error::bad_data_frame;
      if (ec) throw boost::system::system_error(ec);
      decoder.CommitWrite(n);
      if (n > 0) co_return n;  // an empty binary frame is not the end of the stream
    }
  }

  asio::awaitable<void> WriteAll(std::span<const asio::const_buffer> buffers) override {
    co_await ws().async_write(buffers, asio::use_awaitable);
  }

  // Beast reads by completion, not readiness: AwaitReady(kReadable) reads into the
  // decoder, and the next TryRead reports what that read brought.
  IoResult TryRead(mqtt::Decoder& /*decoder*/) override {
    IoResult result;
    if (state_->read_in_flight) {
      result.want = Want::kReadable;
    } else if (state_->read_result.error || state_->read_result.end ||
               state_->read_result.bytes > 0) {
      result = std::exchange(state_->read_result, IoResult{});
    } else {
      result.want = Want::kReadable;
    }
    return result;
  }

  // One write in flight at a time, from a copy, so the caller's bytes are free at once.
  IoResult TryWrite(std::span<const asio::const_buffer> buffers) override {
    IoResult result;
    if (state_->write_error) {
      result.error = state_->write_error;
      return result;
    }
    if (state_->write_in_flight) {
      result.want = Want::kWritable;
      return result;
    }
    for (const auto& b : buffers) result.bytes += b.size();
    state_->outgoing.resize(result.bytes);
    size_t offset = 0;
    for (const auto& b : buffers) {
      std::memcpy(state_->outgoing.data() + offset, b.data(), b.size());
      offset += b.size();
    }
    state_->write_in_flight = true;
    ws().async_write(
        asio::buffer(state_->outgoing),
        [state = state_](const boost::system::error_code& error, size_t) {
          state->write_in_flight = false;
          state->write_error = error;
          std::vector<uint8_t>().swap(state->outgoing);
          if (state->write_listener) {
            std::exchange(state->write_listener, nullptr)->OnReady(state->write_tag, error);
          }
        });
    return result;
  }

  void AwaitReady(Want want, mqtt::Decoder& decoder, ReadyListener& listener, int tag) override {
    if (want == Want::kWritable) {
      if (state_->write_in_flight) {
        state_->write_listener = &listener;
        state_->write_tag = tag;
      } else {
        asio::post(ws().get_executor(),
                   [&listener, tag, error = state_->write_error] { listener.OnReady(tag, error); });
      }
      return;
    }
    const auto space = decoder.PrepareWrite(kReadChunkSize);
    state_->read_in_flight = true;
    ws().async_read_some(asio::buffer(space.data(), space.size()),
                         [state = state_, &decoder, &listener, tag](
                             const boost::system::error_code& error, size_t n) {
                           state->read_in_flight = false;
                           IoResult& result = state->read_result;
                           if (error == websocket::error::closed) {
                             result.end = true;
                           } else if (!error && state->ws.got_text()) {
                             result.error = websocket::error::bad_data_frame;
                           } else if (error) {
                             result.error = error;
                           } else {
                             decoder.CommitWrite(n);
                             result.bytes =
                                 n;  // 0 for an empty frame: the next TryRead waits again
                           }
                           listener.OnReady(tag, result.error);
                         });
  }

  void ShutdownNow() override {
    // A close frame sent on its own time; the socket closes when it is out, or after a
    // second if the peer does not read it.
    auto state = state_;
    state->close_deadline.emplace(ws().get_executor(), std::chrono::seconds(1));
    state->close_deadline->async_wait([state](const boost::system::error_code&) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(state->ws).close(ignored);
    });
    ws().async_close(websocket::close_code::normal, [state](const boost::system::error_code&) {
      if (state->close_deadline) state->close_deadline->cancel();
    });
  }

  void Close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws()).close(ignored);
  }

  X509* PeerCertificate() const override {
    if constexpr (std::is_same_v<NextLayer, asio::ssl::stream<tcp::socket>>) {
      SSL* ssl = state_->ws.next_layer().native_handle();
      if (SSL_get_verify_result(ssl) != X509_V_OK) return nullptr;
      return SSL_get0_peer_certificate(ssl);
    } else {
      return nullptr;
    }
  }

  STACK_OF(X509) * PeerChain() const override {
    if constexpr (std::is_same_v<NextLayer, asio::ssl::stream<tcp::socket>>) {
      return SSL_get_peer_cert_chain(state_->ws.next_layer().native_handle());
    } else {
      return nullptr;
    }
  }

  TlsParameters Tls() const override {
    if constexpr (std::is_same_v<NextLayer, asio::ssl::stream<tcp::socket>>) {
      return NegotiatedParameters(state_->ws.next_layer().native_handle());
    } else {
      return {};
    }
  }

 private:
  // Shared with the operations in flight, which may complete after the stream is gone.
  struct State {
    explicit State(websocket::stream<NextLayer> stream) : ws(std::move(stream)) {}
    websocket::stream<NextLayer> ws;
    bool read_in_flight = false;
    IoResult read_result;
    bool write_in_flight = false;
    boost::system::error_code write_error;
    std::vector<uint8_t> outgoing;
    ReadyListener* write_listener = nullptr;
    int write_tag = 0;
    std::optional<asio::steady_timer> close_deadline;
  };

  websocket::stream<NextLayer>& ws() { return state_->ws; }

  std::shared_ptr<State> state_;
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

// A request moat refuses to read on, as opposed to one cut short by the client.
bool IsMalformed(const boost::system::error_code& error) {
  return error.category() == http::make_error_code(http::error::end_of_stream).category() &&
         error != http::error::end_of_stream && error != http::error::partial_message &&
         error != http::error::short_read;
}

// Origin values as log text: see UpgradeReport::origin.
std::string ReportedOrigins(const http::request<http::empty_body>& request) {
  std::string text;
  const auto [first, last] = request.equal_range(http::field::origin);
  for (auto field = first; field != last; ++field) {
    if (!text.empty()) text += ", ";
    for (const char c : field->value()) {
      if (text.size() >= kMaxReportedOrigin) return text + "...";
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte > 0x7E || c == '"' || c == '\\') {
        constexpr char kHex[] = "0123456789ABCDEF";
        text += {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]};
      } else {
        text += c;
      }
    }
  }
  return text;
}

bool OriginAllowed(const http::request<http::empty_body>& request,
                   std::span<const std::string> allowed) {
  if (allowed.empty()) return true;
  const auto [first, last] = request.equal_range(http::field::origin);
  if (first == last) return true;
  if (std::next(first) != last) return false;
  const auto value = first->value();
  const std::optional<std::string> origin = config::NormalizeOrigin({value.data(), value.size()});
  return origin && std::find(allowed.begin(), allowed.end(), *origin) != allowed.end();
}

template <typename NextLayer>
asio::awaitable<std::unique_ptr<ByteStream>> Upgrade(websocket::stream<NextLayer> ws,
                                                     const WebSocketOptions& options,
                                                     UpgradeReport& report) {
  beast::flat_buffer buffer(kMaxRequestHeaderSize);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxRequestHeaderSize);
  auto [read_error, read_bytes] = co_await http::async_read(ws.next_layer(), buffer, parser,
                                                            asio::as_tuple(asio::use_awaitable));
  if (read_error) {
    if (IsMalformed(read_error)) report.refusal = UpgradeRefusal::kBadRequest;
    throw boost::system::system_error(read_error);
  }
  const auto& request = parser.get();
  std::string_view target(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));
  if (target != options.path) {
    report.refusal = UpgradeRefusal::kBadRequest;
    co_await Reject(ws.next_layer(), http::status::not_found, request.version());
  }
  const auto offered = request[http::field::sec_websocket_protocol];
  const std::string subprotocol = ChooseSubprotocol({offered.data(), offered.size()});
  if (!websocket::is_upgrade(request) || subprotocol.empty()) {
    report.refusal = UpgradeRefusal::kBadRequest;
    co_await Reject(ws.next_layer(), http::status::bad_request, request.version());
  }
  // Before the handshake, so a refused page never gets a WebSocket, let alone MQTT.
  if (!OriginAllowed(request, options.allowed_origins)) {
    report.refusal = UpgradeRefusal::kOrigin;
    report.origin = ReportedOrigins(request);
    co_await Reject(ws.next_layer(), http::status::forbidden, request.version());
  }
  ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& r) {
    r.set(http::field::sec_websocket_protocol, subprotocol);
    r.set(http::field::server, "moat");
  }));
  ws.binary(true);
  // The codec bounds each MQTT packet; one WebSocket message may carry a whole session.
  ws.read_message_max(0);
  auto [accept_error] = co_await ws.async_accept(request, asio::as_tuple(asio::use_awaitable));
  if (accept_error) {
    // Beast has answered a bad key or version with 400 or 426.
    if (accept_error == websocket::condition::handshake_failed) {
      report.refusal = UpgradeRefusal::kBadRequest;
    }
    throw boost::system::system_error(accept_error);
  }
  co_return std::make_unique<WebSocketStream<NextLayer>>(std::move(ws));
}

}  // namespace

asio::awaitable<std::unique_ptr<ByteStream>> AcceptWebSocket(tcp::socket socket,
                                                             const WebSocketOptions& options,
                                                             UpgradeReport& report) {
  socket.set_option(tcp::no_delay(true));
  co_return co_await Upgrade(websocket::stream<tcp::socket>(std::move(socket)), options, report);
}

asio::awaitable<std::unique_ptr<ByteStream>> AcceptSecureWebSocket(tcp::socket socket,
                                                                   SSL_CTX* tls_context,
                                                                   const WebSocketOptions& options,
                                                                   UpgradeReport& report) {
  socket.set_option(tcp::no_delay(true));
  SSL* ssl = SSL_new(tls_context);
  if (ssl == nullptr) throw boost::system::system_error(asio::error::no_memory);
  // The stream's engine owns `ssl` from here on.
  websocket::stream<asio::ssl::stream<tcp::socket>> ws(std::move(socket), ssl);
  co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
  co_return co_await Upgrade(std::move(ws), options, report);
}

}  // namespace moat::net
