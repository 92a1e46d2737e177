#include "proxy/upstream.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/net/catching.h"
#include "proxy/net/plain_stream.h"
#include "proxy/net/socket_options.h"
#include "proxy/net/tls_stream.h"
#include "proxy/upstream_proxy_header.h"

namespace moat::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

UpstreamConnector::UpstreamConnector(const config::Upstream& upstream, tls::SslCtxPtr tls_context,
                                     std::chrono::seconds tcp_keepalive,
                                     const SourceAddresses* sources)
    : upstream_(upstream),
      own_sources_(sources != nullptr ? std::vector<std::string>() : upstream.source_addresses),
      source_addresses_(sources != nullptr ? *sources : own_sources_),
      tcp_keepalive_(tcp_keepalive),
      tls_context_(std::move(tls_context)) {}

asio::awaitable<std::unique_ptr<net::ByteStream>> UpstreamConnector::ConnectOnce(
    const UpstreamRequest& request) const {
  const auto executor = co_await asio::this_coro::executor;
  const tls::SslCtxPtr& tls_context = tls_context_;
  const std::vector<uint8_t> proxy_header = UpstreamProxyHeader(upstream_.proxy_protocol, request);
  tcp::socket socket(executor);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(upstream_.address.host, ec);
  if (!ec) {
    // An IP literal needs no resolver thread.
    co_await source_addresses_.Connect(socket, tcp::endpoint(address, upstream_.address.port));
  } else {
    tcp::resolver resolver(executor);
    const auto results = co_await resolver.async_resolve(
        upstream_.address.host, std::to_string(upstream_.address.port), asio::use_awaitable);
    const std::vector<tcp::endpoint> endpoints(results.begin(), results.end());
    co_await source_addresses_.ConnectAny(socket, endpoints);
  }
  net::EnableTcpKeepAlive(socket.native_handle(), tcp_keepalive_);
  // Before TLS and MQTT: the receiver reads it off the bare TCP stream.
  if (!proxy_header.empty()) {
    co_await asio::async_write(socket, asio::buffer(proxy_header), asio::use_awaitable);
  }
  if (!tls_context) co_return std::make_unique<net::PlainStream>(std::move(socket));

  net::SslPtr ssl(SSL_new(tls_context.get()));
  if (!ssl) throw boost::system::system_error(asio::error::no_memory);
  auto stream = std::make_unique<net::TlsStream>(std::move(socket), std::move(ssl),
                                                 net::TlsStream::Role::kClient);
  const std::string& name =
      upstream_.tls->server_name.empty() ? upstream_.address.host : upstream_.tls->server_name;
  stream->SetPeerName(name);
  co_await stream->Handshake();
  co_return stream;
}

asio::awaitable<std::unique_ptr<net::ByteStream>> UpstreamConnector::Connect(
    const UpstreamRequest& request) const {
  asio::steady_timer timer(co_await asio::this_coro::executor, upstream_.connect_timeout);
  boost::system::error_code error;
  auto result = co_await (net::Catching(ConnectOnce(request), error) ||
                          timer.async_wait(asio::use_awaitable));
  if (result.index() == 1) throw boost::system::system_error(asio::error::timed_out);
  if (error) throw boost::system::system_error(error);
  co_return std::move(std::get<0>(result));
}

}  // namespace moat::proxy
