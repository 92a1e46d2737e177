#include "proxy/admin/admin_server.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/status.h"
#include "metrics/http_endpoint.h"
#include "proxy/audit_log.h"

namespace moat::proxy::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using metrics::AdminOutcome;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr auto kWriteTimeout = std::chrono::seconds(10);

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

}  // namespace

class AdminServer::Impl {
 public:
  Impl(AdminServerOptions options, AdminApi& api, const AdminAuth& auth,
       metrics::MetricsRegistry& metrics)
      : options_(std::move(options)),
        api_(api),
        auth_(auth),
        metrics_(metrics),
        // Counted: an operator sees the refusal at once rather than waiting behind
        // held connections.
        endpoint_(
            options_.max_connections, [this](beast::tcp_stream& stream) { return Serve(stream); },
            [this] { Count(AdminOutcome::kConnectionLimit); }) {}

  absl::Status Listen() {
    absl::StatusOr<uint16_t> bound =
        endpoint_.Listen(options_.host, options_.port, "the admin API");
    if (!bound.ok())
      return absl::UnavailableError("admin.bind: " + std::string(bound.status().message()));
    return absl::OkStatus();
  }

  void Run() { endpoint_.Run(); }
  void Stop() { endpoint_.Stop(); }
  uint16_t port() const { return endpoint_.port(); }

  void SetTlsContext(std::shared_ptr<SSL_CTX> context) {
    if (!context) return;
    // options_ belongs to the server's thread.
    asio::post(endpoint_.io(), [this, context = std::move(context)]() mutable {
      if (options_.tls) options_.tls = std::move(context);
    });
  }

 private:
  void Count(AdminOutcome outcome) { metrics_.Add<metrics::Metric::kAdminRequestsTotal>(outcome); }

  asio::awaitable<void> Serve(beast::tcp_stream& stream) {
    boost::system::error_code peer_error;
    const auto peer = stream.socket().remote_endpoint(peer_error);
    const std::string address = peer_error ? "unknown" : peer.address().to_string();
    // One deadline for the whole request, handshake included: a caller dripping bytes
    // is cut off after request_timeout however slowly it sends.
    stream.expires_after(options_.request_timeout);
    if (!options_.tls) {
      co_await Exchange(stream, stream, nullptr, address);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    SSL* ssl = SSL_new(options_.tls.get());
    if (ssl == nullptr) co_return;
    asio::ssl::stream<beast::tcp_stream&> tls(stream, ssl);
    auto [handshake_error] =
        co_await tls.async_handshake(asio::ssl::stream_base::server, kUseTuple);
    if (handshake_error || endpoint_.stopping()) {
      // Plain HTTP, an unknown certificate or silence: unanswered, and counted. A
      // connection closed without a word (a port probe) is no request at all.
      if (handshake_error == beast::error::timeout) {
        Count(AdminOutcome::kTimeout);
      } else if (handshake_error && handshake_error != asio::error::eof &&
                 handshake_error != asio::error::connection_reset &&
                 handshake_error != asio::ssl::error::stream_truncated) {
        Count(AdminOutcome::kUnauthorized);
      }
      co_return;
    }
    if (!co_await Exchange(tls, stream, tls.native_handle(), address)) co_return;
    co_await tls.async_shutdown(kUseTuple);
  }

  template <typename Stream>
  asio::awaitable<bool> Exchange(Stream& stream, beast::tcp_stream& tcp, SSL* ssl,
                                 const std::string& address) {
    beast::flat_buffer buffer(kHeaderLimit + 1024);
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options_.max_body_bytes);
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (endpoint_.stopping()) co_return false;
    Response response;
    AdminOutcome outcome = AdminOutcome::kOk;
    if (!read_error) {
      response = Handle(parser.get(), ssl, address, outcome);
    } else if (read_error == http::error::body_limit) {
      outcome = AdminOutcome::kBodyTooLarge;
      response = Json(http::status::payload_too_large, ErrorBody("request body too large"));
    } else if (read_error == http::error::header_limit) {
      outcome = AdminOutcome::kBadRequest;
      response = Json(http::status::request_header_fields_too_large,
                      ErrorBody("request headers too large"));
    } else if (read_error == beast::error::timeout) {
      Count(AdminOutcome::kTimeout);
      co_return false;
    } else if (read_error == http::error::end_of_stream || read_error == asio::error::eof ||
               read_error == asio::error::connection_reset ||
               read_error == asio::error::operation_aborted ||
               read_error == asio::ssl::error::stream_truncated) {
      co_return false;  // nobody left to answer
    } else {
      outcome = AdminOutcome::kBadRequest;
      response = Json(http::status::bad_request, ErrorBody("bad request"));
    }
    Count(outcome);
    response.keep_alive(false);
    response.prepare_payload();
    tcp.expires_after(kWriteTimeout);
    auto [write_error, written] = co_await http::async_write(stream, response, kUseTuple);
    co_return !write_error && !endpoint_.stopping();
  }

  static Response Json(http::status status, std::string body) {
    Response response(status, 11);
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(body);
    return response;
  }

  Response Handle(const Request& request, SSL* ssl, const std::string& address,
                  AdminOutcome& outcome) {
    const auto header = request[http::field::authorization];
    const AdminCaller caller = auth_.Check(std::string_view(header.data(), header.size()), ssl);
    const auto target = request.target();
    std::string_view path(target.data(), target.size());
    path = path.substr(0, path.find('?'));
    if (caller.verdict != AdminCaller::Verdict::kOk) {
      const bool missing = caller.verdict == AdminCaller::Verdict::kMissing;
      outcome = missing ? AdminOutcome::kUnauthorized : AdminOutcome::kForbidden;
      if (AuditLog* log = AuditLog::Get()) {
        log->Write({.event = "admin_refused",
                    .reason = missing ? "no_credentials" : "bad_credentials",
                    .address = address,
                    .detail = path});
      }
      Response response = missing ? Json(http::status::unauthorized, ErrorBody("unauthorized"))
                                  : Json(http::status::forbidden, ErrorBody("forbidden"));
      if (missing) response.set(http::field::www_authenticate, "Bearer");
      return response;
    }
    const auto method = request.method_string();
    ApiResponse answer;
    try {
      answer = api_.Handle({.method = std::string_view(method.data(), method.size()),
                            .path = path,
                            .body = request.body(),
                            .actor = caller.actor,
                            .address = address});
    } catch (const std::exception& e) {
      answer = {500, AdminOutcome::kError, ErrorBody(std::string("internal error: ") + e.what())};
    }
    outcome = answer.outcome;
    return Json(static_cast<http::status>(answer.status), std::move(answer.body));
  }

  AdminServerOptions options_;  // only SetTlsContext() changes it, on the server's thread
  AdminApi& api_;
  const AdminAuth& auth_;
  metrics::MetricsRegistry& metrics_;
  metrics::HttpEndpoint endpoint_;  // last: its thread stops before the rest goes
};

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(AdminServerOptions options,
                                                                AdminApi& api,
                                                                const AdminAuth& auth,
                                                                metrics::MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), api, auth, metrics);
  if (absl::Status status = impl->Listen(); !status.ok()) return status;
  impl->Run();
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminServer::~AdminServer() { Stop(); }
void AdminServer::Stop() { impl_->Stop(); }
uint16_t AdminServer::port() const { return impl_->port(); }
void AdminServer::SetTlsContext(std::shared_ptr<SSL_CTX> context) {
  impl_->SetTlsContext(std::move(context));
}

}  // namespace moat::proxy::admin
