#include "proxy/admin/ctl_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "absl/status/status.h"
#include "policy/file_reading/file_text.h"

namespace moat::proxy::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "admin token file");
  if (!text.ok()) return text.status();
  std::string token = text->substr(0, text->find('\n'));
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) return absl::InvalidArgumentError(path + ":1: no token in the file");
  return token;
}

std::string Unbracketed(std::string host) {
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host;
}

// The client side of admin.tls: TLS 1.2 or later, the server verified by name.
absl::StatusOr<asio::ssl::context> MakeContext(const config::Admin& admin) {
  asio::ssl::context context(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  const std::string ca = !admin.ctl.ca.empty() ? admin.ctl.ca : admin.tls->client_ca;
  if (ca.empty()) {
    return absl::InvalidArgumentError(
        "admin.tls is set but neither admin.ctl.ca nor admin.tls.client_ca names a CA to "
        "verify the admin server with");
  }
  boost::system::error_code ec;
  context.load_verify_file(ca, ec);
  if (ec) return absl::InvalidArgumentError(ca + ": cannot load CA: " + ec.message());
  if (!admin.ctl.cert.empty()) {
    context.use_certificate_chain_file(admin.ctl.cert, ec);
    if (!ec) context.use_private_key_file(admin.ctl.key, asio::ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(admin.ctl.cert +
                                        ": cannot load the client "
                                        "certificate: " +
                                        ec.message());
    }
  }
  context.set_verify_mode(asio::ssl::verify_peer);
  return context;
}

struct Exchange {
  http::request<http::string_body> request;
  http::response<http::string_body> response;
  std::optional<std::string> error;
};

template <typename Stream>
asio::awaitable<void> Talk(Stream& stream, Exchange& exchange) {
  auto [write_error, written] = co_await http::async_write(stream, exchange.request, kUseTuple);
  if (write_error) {
    exchange.error = "cannot send the request: " + write_error.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  auto [read_error, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  if (read_error) {
    exchange.error = "no answer: " + read_error.message();
    co_return;
  }
  exchange.response = parser.release();
}

asio::awaitable<void> Run(const config::Admin& admin, asio::ssl::context* context,
                          Exchange& exchange) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const std::string host = Unbracketed(admin.bind->host);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(host, std::to_string(admin.bind->port), kUseTuple);
  if (resolve_error) {
    exchange.error = "cannot resolve " + host + ": " + resolve_error.message();
    co_return;
  }
  beast::tcp_stream stream(executor);
  auto [connect_error, endpoint] = co_await stream.async_connect(endpoints, kUseTuple);
  if (connect_error) {
    exchange.error = "cannot connect to " + admin.bind->ToString() + ": " + connect_error.message();
    co_return;
  }
  if (context == nullptr) {
    co_await Talk(stream, exchange);
    co_return;
  }
  asio::ssl::stream<beast::tcp_stream&> tls(stream, *context);
  const std::string name = admin.ctl.server_name.empty() ? host : admin.ctl.server_name;
  SSL* ssl = tls.native_handle();
  // SNI only for names (RFC 6066 forbids IP literals); the check covers both.
  boost::system::error_code not_an_address;
  asio::ip::make_address(name, not_an_address);
  if (not_an_address) {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  }
  auto [handshake_error] = co_await tls.async_handshake(asio::ssl::stream_base::client, kUseTuple);
  if (handshake_error) {
    exchange.error =
        "TLS handshake with " + admin.bind->ToString() + " failed: " + handshake_error.message();
    co_return;
  }
  co_await Talk(tls, exchange);
}

}  // namespace

absl::StatusOr<CtlResponse> SendAdminRequest(const config::Admin& admin, std::string_view method,
                                             std::string_view path, std::string_view body,
                                             std::chrono::milliseconds timeout) {
  if (!admin.bind) {
    return absl::FailedPreconditionError("the config has no admin.bind: the admin API is off");
  }
  Exchange exchange;
  exchange.request.method_string(beast::string_view(method.data(), method.size()));
  exchange.request.target(beast::string_view(path.data(), path.size()));
  exchange.request.version(11);
  exchange.request.set(http::field::host, admin.bind->ToString());
  if (!admin.bearer_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(admin.bearer_token_file);
    if (!token.ok()) return token.status();
    exchange.request.set(http::field::authorization, "Bearer " + *token);
  }
  if (!body.empty()) {
    exchange.request.set(http::field::content_type, "application/json");
    exchange.request.body() = std::string(body);
  }
  exchange.request.prepare_payload();
  std::optional<asio::ssl::context> context;
  if (admin.tls) {
    absl::StatusOr<asio::ssl::context> made = MakeContext(admin);
    if (!made.ok()) return made.status();
    context.emplace(std::move(*made));
  }
  asio::io_context io;
  asio::co_spawn(io, Run(admin, context ? &*context : nullptr, exchange), asio::detached);
  io.run_for(timeout);
  if (!io.stopped()) return absl::DeadlineExceededError("the admin API did not answer in time");
  if (exchange.error) return absl::UnavailableError(*exchange.error);
  return CtlResponse{exchange.response.result_int(), exchange.response.body()};
}

}  // namespace moat::proxy::admin
