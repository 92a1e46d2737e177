#include "proxy/connection_setup.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <string>

#include "policy/network.h"
#include "proxy/admin/ban_store.h"
#include "proxy/audit_log.h"
#include "proxy/net/catching.h"
#include "proxy/net/plain_stream.h"
#include "proxy/net/proxy_header_reader.h"
#include "proxy/net/socket_options.h"
#include "proxy/net/tls_stream.h"
#include "proxy/net/websocket_stream.h"

namespace moat::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using metrics::ConnectionRefusal;

namespace {

// Why a client's handshake failed, for the metric: what the verification or the
// OpenSSL error said, in the closed set of reasons operators alert on.
metrics::TlsFailureReason ClassifyHandshakeFailure(SSL* ssl, const boost::system::error_code& ec) {
  switch (SSL_get_verify_result(ssl)) {
    case X509_V_OK:
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return metrics::TlsFailureReason::kExpired;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return metrics::TlsFailureReason::kUnknownCa;
    case X509_V_ERR_CERT_REVOKED:
      return metrics::TlsFailureReason::kRevoked;
    // The certificate may be good, but no usable CRL says so: fail closed, and say why.
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
      return metrics::TlsFailureReason::kCrlUnavailable;
    default:
      return metrics::TlsFailureReason::kBadClientCertificate;
  }
  if (ec.category() != asio::error::get_ssl_category()) return metrics::TlsFailureReason::kOther;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
      return metrics::TlsFailureReason::kNoSharedCipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return metrics::TlsFailureReason::kBadClientCertificate;
    default:
      return metrics::TlsFailureReason::kOther;
  }
}

// The peer closed: as OpenSSL 3 reports it (an "unexpected EOF" error), or as the stream
// does for a clean or truncated end.
bool IsEndOfStream(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return true;
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
             SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

// One connection on its way to MQTT, with what it has learned so far.
class Setup {
 public:
  Setup(const ConnectionSetupContext& context, ConnectionGate::Ticket ticket, std::string address)
      : context_(context), ticket_(std::move(ticket)) {
    identity_.address = std::move(address);
    identity_.listener = context.listener.name;
  }

  asio::awaitable<std::unique_ptr<net::ByteStream>> Open(tcp::socket socket);

  // Counts and audits a refusal; `misbehaving` ones count towards the address's ban.
  void Refuse(ConnectionRefusal refusal, bool misbehaving, std::string_view detail = {}) {
    ReportRefusedConnection(context_, refusal, identity_.address, detail);
    if (misbehaving) RecordFailure();
  }
  // A connection closed before its first handshake byte is a port probe (a load
  // balancer's health check, a TCP liveness probe): counted, neither audited nor held
  // against the address. Everything else that fails a handshake is.
  void HandshakeFailed(metrics::TlsFailureReason reason, bool misbehaving) {
    context_.counters.Add<metrics::Metric::kTlsHandshakeFailuresTotal>(context_.listener_id,
                                                                       reason);
    if (!misbehaving) return;  // a probe every few seconds would drown the audit log
    Audit("tls_handshake", metrics::ClosedDomainValues(
                               metrics::Domain::kTlsFailureReason)[static_cast<size_t>(reason)]);
    RecordFailure();
  }
  bool closed_before_hello() const { return closed_before_hello_; }
  bool upgrade_refused() const { return upgrade_refused_; }

  policy::ClientIdentity& identity() { return identity_; }
  proxy_protocol::ProxiedAddresses& endpoints() { return endpoints_; }
  ConnectionGate::Ticket& ticket() { return ticket_; }
  bool handshaking() const { return handshaking_; }
  metrics::TlsFailureReason tls_failure() const { return tls_failure_; }

 private:
  void Audit(std::string_view reason, std::string_view detail) const {
    if (AuditLog* log = AuditLog::Get()) {
      log->Write({.event = "refused_connection",
                  .reason = reason,
                  .address = identity_.address,
                  .listener = identity_.listener,
                  .detail = detail});
    }
  }
  void RecordFailure() const {
    if (context_.bans == nullptr) return;
    if (context_.bans->RecordFailure(policy::BanList::AddressKey(identity_.address),
                                     policy::BanList::Clock::now())) {
      if (AuditLog* log = AuditLog::Get()) {
        log->Write({.event = "ban",
                    .reason = "address",
                    .address = identity_.address,
                    .listener = identity_.listener});
      }
    }
  }
  asio::awaitable<bool> ReadProxyHeader(tcp::socket& socket);
  asio::awaitable<std::unique_ptr<net::ByteStream>> Handshake(tcp::socket socket);

  const ConnectionSetupContext& context_;
  ConnectionGate::Ticket ticket_;
  policy::ClientIdentity identity_;
  proxy_protocol::ProxiedAddresses endpoints_;
  bool handshaking_ = false;          // the TLS handshake or WebSocket upgrade has begun
  bool closed_before_hello_ = false;  // the client left before sending a handshake byte
  bool upgrade_refused_ = false;      // counted as a WebSocket refusal already
  metrics::TlsFailureReason tls_failure_ = metrics::TlsFailureReason::kOther;
};

asio::awaitable<bool> Setup::ReadProxyHeader(tcp::socket& socket) {
  const config::Listener& listener = context_.listener;
  // Only the load balancers may say who the client is: from anyone else the header is a
  // claim to be any address, to dodge a ban, frame another, or pass an `addresses:` rule.
  const auto sender = policy::ParseAddress(identity_.address);
  const bool trusted =
      sender &&
      std::any_of(listener.proxy_protocol_from.begin(), listener.proxy_protocol_from.end(),
                  [&](const policy::Cidr& cidr) { return policy::CidrContains(cidr, *sender); });
  if (!trusted) {
    Refuse(ConnectionRefusal::kProxyUntrusted, /*misbehaving=*/true);
    co_return false;
  }
  const auto header = co_await net::ReadProxyHeader(socket, *listener.proxy_protocol);
  if (header.status != proxy_protocol::ParseStatus::kDone) {
    Refuse(ConnectionRefusal::kProxyHeader, /*misbehaving=*/true, header.error);
    co_return false;
  }
  // Behind a load balancer the real client is in the header, and that is the address
  // limits, bans, logs, metrics and policy must see.
  if (header.addresses) {
    identity_.address = header.addresses->source.ip;
    endpoints_ = *header.addresses;
  }
  co_return true;
}

asio::awaitable<std::unique_ptr<net::ByteStream>> Setup::Open(tcp::socket socket) {
  boost::system::error_code ignored;
  const tcp::endpoint peer = socket.remote_endpoint(ignored);
  const tcp::endpoint local = socket.local_endpoint(ignored);
  endpoints_ = {{identity_.address, peer.port()}, {local.address().to_string(), local.port()}};
  // Without a PROXY header the address was screened at accept.
  if (context_.listener.proxy_protocol) {
    if (!co_await ReadProxyHeader(socket)) co_return nullptr;
    if (!ScreenAddress(context_, ticket_, identity_.address)) {
      net::ResetOnClose(socket);
      co_return nullptr;
    }
  }
  handshaking_ = true;
  // Not `co_return co_await Handshake(...)`: GCC 12 at -O2 built that into a frame that
  // read an uninitialised `this` (a crash on the first connection, seen under valgrind).
  std::unique_ptr<net::ByteStream> stream = co_await Handshake(std::move(socket));
  co_return stream;
}

asio::awaitable<std::unique_ptr<net::ByteStream>> Setup::Handshake(tcp::socket socket) {
  const config::Listener& listener = context_.listener;
  const SSL_CTX* tls = context_.tls_context.get();
  if (listener.protocol == config::ListenerProtocol::kWebSocket) {
    const net::WebSocketOptions options{listener.websocket_path, listener.websocket_origins};
    net::UpgradeReport report;
    try {
      if (tls != nullptr) {
        co_return co_await net::AcceptSecureWebSocket(std::move(socket), context_.tls_context.get(),
                                                      options, report);
      }
      co_return co_await net::AcceptWebSocket(std::move(socket), options, report);
    } catch (const boost::system::system_error&) {
      if (report.refusal == net::UpgradeRefusal::kNone) throw;
    }
    // Refused by moat, after any TLS handshake had succeeded: not a TLS failure.
    upgrade_refused_ = true;
    if (report.refusal == net::UpgradeRefusal::kOrigin) {
      Refuse(ConnectionRefusal::kWebSocketOrigin, /*misbehaving=*/false,
             "origin \"" + report.origin + "\"");
    } else {
      Refuse(ConnectionRefusal::kWebSocketUpgrade, /*misbehaving=*/true);
    }
    co_return nullptr;
  }
  if (tls == nullptr) co_return std::make_unique<net::PlainStream>(std::move(socket));
  net::SslPtr ssl(SSL_new(context_.tls_context.get()));
  if (!ssl) co_return nullptr;
  auto stream = std::make_unique<net::TlsStream>(std::move(socket), std::move(ssl),
                                                 net::TlsStream::Role::kServer);
  try {
    co_await stream->Handshake();
  } catch (const boost::system::system_error& e) {
    tls_failure_ = ClassifyHandshakeFailure(stream->ssl(), e.code());
    closed_before_hello_ =
        BIO_number_read(SSL_get_rbio(stream->ssl())) == 0 && IsEndOfStream(e.code());
    throw;
  }
  co_return stream;
}

}  // namespace

bool ScreenAddress(const ConnectionSetupContext& context, ConnectionGate::Ticket& ticket,
                   const std::string& address) {
  if ((context.bans && context.bans->IsBanned(policy::BanList::AddressKey(address),
                                              policy::BanList::Clock::now())) ||
      context.manual_bans->AddressBanned(address, std::time(nullptr))) {
    ReportRefusedConnection(context, ConnectionRefusal::kBanned, address);
    context.counters.Add<metrics::Metric::kDenialsTotal>(
        policy::Action::kConnect, policy::DenyReason::kBanned, metrics::DenyMode::kEnforce,
        metrics::kNoRuleLabel);
    return false;
  }
  if (const auto refusal =
          context.gate.AdmitSource(ticket, address, ConnectionGate::Clock::now())) {
    ReportRefusedConnection(context, *refusal, address);
    return false;
  }
  return true;
}

void ReportRefusedConnection(const ConnectionSetupContext& context, ConnectionRefusal refusal,
                             std::string_view address, std::string_view detail) {
  context.counters.Add<metrics::Metric::kConnectionsRefusedTotal>(context.listener_id, refusal);
  if (AuditLog* log = AuditLog::Get()) {
    log->Write({.event = "refused_connection",
                .reason = metrics::ClosedDomainValues(
                    metrics::Domain::kConnectionRefusal)[static_cast<size_t>(refusal)],
                .address = address,
                .listener = context.listener.name,
                .detail = detail});
  }
}

asio::awaitable<std::optional<OpenedClient>> OpenClient(tcp::socket socket,
                                                        ConnectionGate::Ticket ticket,
                                                        std::string address,
                                                        const ConnectionSetupContext& context) {
  const SteadyTime accepted = std::chrono::steady_clock::now();
  Setup setup(context, std::move(ticket), std::move(address));

  // Everything before MQTT shares one deadline, so a client cannot hold a connection
  // open by dribbling out a header or a handshake.
  asio::steady_timer deadline(co_await asio::this_coro::executor,
                              accepted + context.limits.tls_handshake_timeout);
  boost::system::error_code error;
  auto opened = co_await (net::Catching(setup.Open(std::move(socket)), error) ||
                          deadline.async_wait(asio::use_awaitable));
  std::unique_ptr<net::ByteStream> stream;
  if (opened.index() == 0) stream = std::move(std::get<0>(opened));
  if (stream) {
    co_return OpenedClient{std::move(stream), std::move(setup.identity()),
                           std::move(setup.endpoints()), std::move(setup.ticket()), accepted};
  }
  const bool timed_out = opened.index() == 1;
  if (setup.upgrade_refused()) co_return std::nullopt;
  if (setup.handshaking() && context.tls_context) {
    // Beast runs the TLS handshake of a wss listener: there, any end of stream is taken
    // for a probe's.
    const bool probe =
        setup.closed_before_hello() ||
        (context.listener.protocol == config::ListenerProtocol::kWebSocket && IsEndOfStream(error));
    setup.HandshakeFailed(timed_out ? metrics::TlsFailureReason::kTimeout : setup.tls_failure(),
                          /*misbehaving=*/timed_out || !probe);
  } else if (timed_out) {
    setup.Refuse(ConnectionRefusal::kSetupTimeout, /*misbehaving=*/true);
  }
  co_return std::nullopt;
}

}  // namespace moat::proxy
