#include "metrics/http_server.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <mutex>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "metrics/exposition.h"
#include "metrics/http_endpoint.h"

namespace moat::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

Response MakeResponse(http::status status, std::string body) {
  Response response(status, 11);
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
  return response;
}

std::string_view PathOf(const Request& request) {
  const auto target = request.target();
  std::string_view path(target.data(), target.size());
  return path.substr(0, path.find('?'));
}

}  // namespace

class MetricsServer::Impl {
 public:
  Impl(MetricsRegistry& registry, ReadinessCheck readiness, MetricsServerLimits limits)
      : registry_(registry),
        readiness_(std::move(readiness)),
        tls_(std::exchange(limits.tls, nullptr)),
        limits_(std::move(limits)),
        endpoint_(limits_.max_connections,
                  [this](beast::tcp_stream& stream) { return Serve(stream); }) {}

  absl::Status Listen(const std::string& host, uint16_t port) {
    return endpoint_.Listen(host, port, "metrics").status();
  }

  void Run() { endpoint_.Run(); }
  void Stop() { endpoint_.Stop(); }
  uint16_t port() const { return endpoint_.port(); }

  void SetTlsContext(std::shared_ptr<SSL_CTX> context) {
    std::lock_guard lock(tls_mutex_);
    if (context && tls_) tls_ = std::move(context);
  }

 private:
  std::shared_ptr<SSL_CTX> TlsContext() {
    std::lock_guard lock(tls_mutex_);
    return tls_;
  }

  asio::awaitable<void> Serve(beast::tcp_stream& stream) {
    // One deadline for the whole request, handshake included, so a client dripping a
    // byte at a time (or sending nothing) is cut off after request_timeout, however
    // slowly it sends.
    const auto deadline = std::chrono::steady_clock::now() + limits_.request_timeout;
    const std::shared_ptr<SSL_CTX> context = TlsContext();
    if (!context) {
      stream.expires_at(deadline);
      co_await Exchange(stream, stream);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    // The SSL holds its own reference to the context, so a reload swapping contexts
    // mid-handshake frees nothing under it.
    SSL* ssl = SSL_new(context.get());
    if (ssl == nullptr) co_return;
    asio::ssl::stream<beast::tcp_stream&> tls(stream, ssl);
    stream.expires_at(
        std::min(deadline, std::chrono::steady_clock::now() + limits_.tls_handshake_timeout));
    // Plain HTTP, a wrong certificate or a silent client all end here, unanswered.
    auto [handshake_error] =
        co_await tls.async_handshake(asio::ssl::stream_base::server, kUseTuple);
    if (handshake_error || endpoint_.stopping()) co_return;
    stream.expires_at(deadline);
    if (!co_await Exchange(tls, stream)) co_return;
    // close_notify tells the client the body is complete rather than cut off; waiting for
    // its reply is bounded by the write deadline Exchange() set.
    co_await tls.async_shutdown(kUseTuple);
  }

  // Reads one request from `stream` and answers it; `tcp` is the socket under it, which
  // holds the deadlines. True when a response was written in full.
  template <typename Stream>
  asio::awaitable<bool> Exchange(Stream& stream, beast::tcp_stream& tcp) {
    beast::flat_buffer buffer(limits_.header_limit + 1024);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<uint32_t>(limits_.header_limit));
    auto [read_error, read_bytes] =
        co_await http::async_read_header(stream, buffer, parser, kUseTuple);
    if (endpoint_.stopping()) co_return false;

    Response response;
    if (!read_error && !parser.is_done()) {
      // GET and HEAD carry no body; refuse one rather than wait for it.
      response = MakeResponse(http::status::bad_request, "request bodies are not accepted\n");
    } else if (!read_error) {
      response = Handle(parser.get());
    } else if (read_error == http::error::header_limit) {
      response = MakeResponse(http::status::request_header_fields_too_large,
                              "request headers too large\n");
    } else if (read_error == http::error::end_of_stream || read_error == beast::error::timeout ||
               read_error == asio::error::eof || read_error == asio::error::connection_reset ||
               read_error == asio::error::operation_aborted ||
               read_error == asio::ssl::error::stream_truncated) {
      co_return false;  // nobody left to answer, or not worth answering
    } else {
      response = MakeResponse(http::status::bad_request, "bad request\n");
    }
    response.keep_alive(false);
    tcp.expires_after(limits_.write_timeout);
    auto [write_error, written] = co_await http::async_write(stream, response, kUseTuple);
    co_return !write_error && !endpoint_.stopping();
  }

  Response Handle(const Request& request) {
    const bool head = request.method() == http::verb::head;
    if (request.method() != http::verb::get && !head) {
      Response response =
          MakeResponse(http::status::method_not_allowed, "only GET and HEAD are served\n");
      response.set(http::field::allow, "GET, HEAD");
      return Finish(std::move(response), head);
    }
    const std::string_view path = PathOf(request);
    try {
      if (path == "/metrics") {
        if (!Authorized(request)) {
          Response response = MakeResponse(http::status::unauthorized, "unauthorized\n");
          response.set(http::field::www_authenticate, limits_.authorization.starts_with("Basic")
                                                          ? "Basic realm=\"moat\""
                                                          : "Bearer");
          return Finish(std::move(response), head);
        }
        const auto accept = request[http::field::accept];
        const ExpositionFormat format =
            NegotiateFormat(std::string_view(accept.data(), accept.size()));
        Response response = MakeResponse(http::status::ok, Serialize(registry_.Collect(), format));
        const std::string_view content_type = ContentType(format);
        response.set(http::field::content_type,
                     beast::string_view(content_type.data(), content_type.size()));
        return Finish(std::move(response), head);
      }
      if (path == "/healthz") return Finish(MakeResponse(http::status::ok, "ok"), head);
      if (path == "/readyz") return Finish(Readiness(), head);
    } catch (const std::exception& e) {
      return Finish(MakeResponse(http::status::internal_server_error,
                                 std::string("internal error: ") + e.what() + "\n"),
                    head);
    }
    return Finish(MakeResponse(http::status::not_found, "not found\n"), head);
  }

  bool Authorized(const Request& request) const {
    const std::string& expected = limits_.authorization;
    if (expected.empty()) return true;
    const auto given = request[http::field::authorization];
    // Constant time: the comparison must not tell a scraper how much of a token it got.
    return given.size() == expected.size() &&
           CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
  }

  Response Readiness() {
    ReadinessReport report;
    if (readiness_) {
      try {
        report = readiness_();
      } catch (const std::exception& e) {
        report = {.problems = {std::string("readiness check failed: ") + e.what()}};
      }
    }
    const bool ready = report.problems.empty();
    std::string body = ready ? "ready" : "";
    if (ready && !report.note.empty()) body += '\n';
    for (const std::string& line : report.problems) body += line + '\n';
    if (!report.note.empty()) body += report.note + '\n';
    return MakeResponse(ready ? http::status::ok : http::status::service_unavailable,
                        std::move(body));
  }

  // HEAD gets the headers GET would, Content-Length included, and no body.
  static Response Finish(Response response, bool head) {
    response.prepare_payload();
    if (head) {
      const size_t length = response.body().size();
      response.body().clear();
      response.content_length(length);
    }
    return response;
  }

  MetricsRegistry& registry_;
  const ReadinessCheck readiness_;
  std::shared_ptr<SSL_CTX> tls_;  // null: plain HTTP; limits_.tls stays null
  std::mutex tls_mutex_;
  const MetricsServerLimits limits_;
  HttpEndpoint endpoint_;  // last: its thread stops before the rest goes
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& host, uint16_t port, MetricsRegistry& registry,
    ReadinessCheck readiness_problems, MetricsServerLimits limits) {
  auto impl = std::make_unique<Impl>(registry, std::move(readiness_problems), limits);
  if (absl::Status status = impl->Listen(host, port); !status.ok()) return status;
  impl->Run();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() { impl_->Stop(); }

uint16_t MetricsServer::port() const { return impl_->port(); }

void MetricsServer::SetTlsContext(std::shared_ptr<SSL_CTX> context) {
  impl_->SetTlsContext(std::move(context));
}

}  // namespace moat::metrics
