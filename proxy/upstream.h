// Opens the link to the broker being shielded: resolve, connect, and for a TLS
// upstream verify the broker's certificate (CA and server name) before a byte of MQTT
// is sent. One link per client connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string_view>

#include "policy/authorizer.h"
#include "proxy/config/config.h"
#include "proxy/net/byte_stream.h"
#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/source_addresses.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {

// Who a link to the broker is for: the client id can pick the server, and the client's
// identity and TLS link are what the broker may be told about it.
struct UpstreamRequest {
  std::string_view client_id;
  const policy::ClientIdentity* identity = nullptr;  // null: moat's own probe (readiness)
  const net::ByteStream* client = nullptr;           // the client's link, for its TLS facts
  // The client's address and port (from a trusted PROXY header where the listener takes
  // one) and the address and port it connected to: what a PROXY header to the broker says.
  const proxy_protocol::ProxiedAddresses* endpoints = nullptr;
};

// Where admission gets a session's link to the broker.
class Upstream {
 public:
  // Throws boost::system::system_error, with asio::error::timed_out when the whole
  // attempt takes longer than the configured timeout.
  virtual boost::asio::awaitable<std::unique_ptr<net::ByteStream>> Connect(
      const UpstreamRequest& request) const = 0;
  // Whether the broker behind `link` (from Connect()) answers the CONNECT just written to
  // it in time; what it sent stays for the relay. A single connector does not wait.
  virtual boost::asio::awaitable<bool> AwaitAnswer(net::ByteStream& /*link*/) const {
    co_return true;
  }

 protected:
  ~Upstream() = default;
};

class UpstreamConnector final : public Upstream {
 public:
  // `tls_context` is null for a plain TCP upstream.
  // `tcp_keepalive`: limits.tcp_keepalive for the links it opens (0: off).
  // `sources`: upstream.source_addresses taken in turn across connectors (a pool makes a
  // connector per attempt); null: this connector's own turn.
  UpstreamConnector(const config::Upstream& upstream, tls::SslCtxPtr tls_context,
                    std::chrono::seconds tcp_keepalive = {},
                    const SourceAddresses* sources = nullptr);

  // Resolution, TCP and TLS, all within upstream.connect_timeout.
  boost::asio::awaitable<std::unique_ptr<net::ByteStream>> Connect(
      const UpstreamRequest& request) const override;

 private:
  boost::asio::awaitable<std::unique_ptr<net::ByteStream>> ConnectOnce(
      const UpstreamRequest& request) const;

  const config::Upstream& upstream_;
  const SourceAddresses own_sources_;
  const SourceAddresses& source_addresses_;  // own_sources_, or the one given
  const std::chrono::seconds tcp_keepalive_;
  const tls::SslCtxPtr tls_context_;
};

}  // namespace moat::proxy
