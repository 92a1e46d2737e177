// Opens the link to the broker being shielded: resolve, connect, and for a TLS
// upstream verify the broker's certificate (CA and server name) before a byte of MQTT
// is sent. One link per client connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "proxy/config/config.h"
#include "proxy/net/byte_stream.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {

class UpstreamConnector {
 public:
  // `tls_context` is null for a plain TCP upstream.
  UpstreamConnector(const config::Upstream& upstream, tls::SslCtxPtr tls_context);

  // Throws boost::system::system_error, with asio::error::timed_out when the whole
  // attempt (resolution, TCP and TLS) takes longer than the configured timeout.
  boost::asio::awaitable<std::unique_ptr<net::ByteStream>> Connect() const;
  void set_tls_context(tls::SslCtxPtr context) { tls_context_ = std::move(context); }

 private:
  boost::asio::awaitable<std::unique_ptr<net::ByteStream>> ConnectOnce() const;

  const config::Upstream& upstream_;
  tls::SslCtxPtr tls_context_;
};

}  // namespace moat::proxy
