#include "proxy/worker.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/audit_log.h"
#include "proxy/auth/auth_services.h"
#include "proxy/log.h"
#include "proxy/net/catching.h"
#include "proxy/net/plain_stream.h"
#include "proxy/net/proxy_header_reader.h"
#include "proxy/net/tls_stream.h"
#include "proxy/net/websocket_stream.h"
#include "proxy/session/session.h"

namespace moat::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

absl::StatusOr<tcp::endpoint> ResolveBind(const config::Endpoint& bind) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(bind.host, ec);
  if (!ec) return tcp::endpoint(address, bind.port);
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(bind.host, std::to_string(bind.port), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError("cannot resolve listener address " + bind.ToString() + ": " +
                                      ec.message());
  }
  return results.begin()->endpoint();
}

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

}  // namespace

Worker::Worker(const config::Config& config, std::shared_ptr<const policy::Authorizer> authorizer,
               AuthServices& auth, metrics::ThreadCounters& counters,
               std::vector<ListenerSetup> listeners, tls::SslCtxPtr upstream_tls)
    : config_(config),
      auth_(auth),
      listeners_(std::move(listeners)),
      upstream_(config.upstream, std::move(upstream_tls)),
      counters_(counters),
      authorizer_(std::move(authorizer)) {
  session_environments_.reserve(listeners_.size());
  for (const ListenerSetup& setup : listeners_) {
    session_environments_.push_back({.config = config_,
                                     .upstream = upstream_,
                                     .counters = counters_,
                                     .listener = setup.id,
                                     .auth = auth_,
                                     .owner = *this,
                                     .executor = io_context_.get_executor(),
                                     .relay = {.authorizer = authorizer_,
                                               .clock = SteadyClock(),
                                               .drain_timeout = config_.limits.drain_timeout,
                                               .max_packet_size = config_.limits.max_packet_size,
                                               .sweep = short_read_sweep_}});
  }
}

Worker::~Worker() {
  Join();
  // Sessions the io_context stopped for before they finished; their pending callbacks
  // are destroyed with it, never run.
  for (Session* session : sessions_) delete session;
}

absl::Status Worker::Bind() {
  for (const ListenerSetup& setup : listeners_) {
    auto endpoint = ResolveBind(setup.listener->bind);
    if (!endpoint.ok()) return endpoint.status();
    auto acceptor = std::make_unique<tcp::acceptor>(io_context_);
    boost::system::error_code ec;
    const auto fail = [&](std::string_view step) {
      return absl::UnavailableError("listener " + setup.listener->bind.ToString() + ": " +
                                    std::string(step) + ": " + ec.message());
    };
    acceptor->open(endpoint->protocol(), ec);
    if (ec) return fail("open");
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    // Every worker binds the same address; the kernel spreads connections over them.
    acceptor->set_option(ReusePort(true), ec);
    if (ec) return fail("SO_REUSEPORT");
    // "[::]" means IPv6 only, so that "0.0.0.0" on the same port can be its own listener.
    if (endpoint->address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    acceptor->bind(*endpoint, ec);
    if (ec) return fail("bind");
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    acceptors_.push_back(std::move(acceptor));
  }
  return absl::OkStatus();
}

void Worker::Start() {
  for (size_t i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(io_context_, AcceptLoop(*acceptors_[i], listeners_[i]), asio::detached);
  }
  thread_ = std::thread([this] { io_context_.run(); });
}

void Worker::Stop() {
  asio::post(io_context_, [this] {
    if (stopping_) return;
    stopping_ = true;
    for (auto& acceptor : acceptors_) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
    for (Session* session : sessions_) session->RequestDrain();
    asio::co_spawn(io_context_, Drain(), asio::detached);
  });
}

void Worker::RevokeChanged(std::shared_ptr<const policy::PasswordFile> file) {
  asio::post(io_context_, [this, file = std::move(file)] {
    for (Session* session : sessions_) session->RevokeIfChanged(*file);
  });
}

void Worker::SetAuthorizer(std::shared_ptr<const policy::Authorizer> authorizer) {
  asio::post(io_context_, [this, authorizer = std::move(authorizer)]() mutable {
    authorizer_ = std::move(authorizer);
    for (Session* session : sessions_) session->PolicyChanged();
  });
}

void Worker::SetTlsContexts(std::vector<tls::SslCtxPtr> listeners, tls::SslCtxPtr upstream) {
  asio::post(io_context_,
             [this, listeners = std::move(listeners), upstream = std::move(upstream)]() mutable {
               for (size_t i = 0; i < listeners_.size() && i < listeners.size(); ++i) {
                 listeners_[i].tls_context = std::move(listeners[i]);
               }
               upstream_.set_tls_context(std::move(upstream));
             });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> Worker::Drain() {
  const auto deadline = std::chrono::steady_clock::now() + config_.limits.drain_timeout;
  asio::steady_timer timer(io_context_);
  while (!sessions_.empty() && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
  for (Session* session : sessions_) session->Abort();
}

asio::awaitable<void> Worker::AcceptLoop(tcp::acceptor& acceptor, const ListenerSetup& setup) {
  asio::steady_timer backoff(io_context_);
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (ec) {
      // Out of file descriptors: wait for some to be freed instead of spinning.
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    if (open_connections_ >= config_.limits.max_connections) {
      continue;  // the socket closes as it goes out of scope
    }
    asio::co_spawn(io_context_, Serve(std::move(socket), setup), asio::detached);
  }
}

asio::awaitable<std::unique_ptr<net::ByteStream>> Worker::OpenClientStream(
    tcp::socket socket, const ListenerSetup& setup, policy::ClientIdentity& identity,
    metrics::TlsFailureReason& tls_failure) {
  const config::Listener& listener = *setup.listener;
  if (listener.proxy_protocol) {
    // Behind a load balancer the real client is in the PROXY header, and that is the
    // address logs, metrics and policy must see.
    const auto header = co_await net::ReadProxyHeader(socket, *listener.proxy_protocol);
    if (header.status != proxy_protocol::ParseStatus::kDone) {
      LogInfo("refused connection from " + identity.address + " on listener " + identity.listener +
              ": bad PROXY protocol header: " + header.error);
      co_return nullptr;
    }
    if (header.addresses) identity.address = header.addresses->source.ip;
  }
  // A banned address is refused before any TLS or hashing work is spent on it.
  if (auth_.bans && auth_.bans->IsBanned(policy::BanList::AddressKey(identity.address),
                                         policy::BanList::Clock::now())) {
    counters_.Add<metrics::Metric::kConnectTotal>(metrics::ConnectResult::kBanned);
    counters_.Add<metrics::Metric::kDenialsTotal>(
        policy::Action::kConnect, policy::DenyReason::kBanned, metrics::DenyMode::kEnforce,
        metrics::kNoRuleLabel);
    co_return nullptr;
  }
  if (listener.protocol == config::ListenerProtocol::kWebSocket) {
    const net::WebSocketOptions options{listener.websocket_path, listener.websocket_origins};
    net::UpgradeReport report;
    try {
      if (setup.tls_context) {
        co_return co_await net::AcceptSecureWebSocket(std::move(socket), setup.tls_context.get(),
                                                      options, report);
      }
      co_return co_await net::AcceptWebSocket(std::move(socket), options, report);
    } catch (const boost::system::system_error&) {
      if (report.refusal == net::UpgradeRefusal::kNone) throw;
    }
    // Refused by moat, after any TLS handshake had succeeded: not a TLS failure.
    CountUpgradeRefusal(setup, identity, report);
    co_return nullptr;
  }
  if (setup.tls_context) {
    net::SslPtr ssl(SSL_new(setup.tls_context.get()));
    if (!ssl) co_return nullptr;
    auto tls = std::make_unique<net::TlsStream>(std::move(socket), std::move(ssl),
                                                net::TlsStream::Role::kServer);
    try {
      co_await tls->Handshake();
    } catch (const boost::system::system_error& e) {
      tls_failure = ClassifyHandshakeFailure(tls->ssl(), e.code());
      throw;
    }
    co_return tls;
  }
  co_return std::make_unique<net::PlainStream>(std::move(socket));
}

void Worker::CountUpgradeRefusal(const ListenerSetup& setup, const policy::ClientIdentity& identity,
                                 const net::UpgradeReport& report) {
  const bool origin = report.refusal == net::UpgradeRefusal::kOrigin;
  counters_.Add<metrics::Metric::kConnectionsRefusedTotal>(
      setup.id, origin ? metrics::ConnectionRefusal::kWebSocketOrigin
                       : metrics::ConnectionRefusal::kWebSocketUpgrade);
  if (AuditLog* audit = AuditLog::Get()) {
    const std::string detail = origin ? "origin \"" + report.origin + "\"" : "";
    audit->Write({.event = "refused_connection",
                  .reason = origin ? "websocket_origin" : "websocket_upgrade",
                  .address = identity.address,
                  .listener = identity.listener,
                  .detail = detail});
  }
}

asio::awaitable<void> Worker::Serve(tcp::socket socket, const ListenerSetup& setup) {
  counters_.Add<metrics::Metric::kConnectionsAcceptedTotal>(setup.id);
  // Counted until the session is finished, or until this coroutine gives up on it.
  trimmer_.Opened(++open_connections_);
  struct Closed {
    uint64_t* open;
    ~Closed() {
      if (open != nullptr) --*open;
    }
  } closed{&open_connections_};
  policy::ClientIdentity identity;
  identity.listener = setup.listener->name;
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  identity.address = ec ? "unknown" : peer.address().to_string();

  // Everything before MQTT (PROXY header, TLS, WebSocket upgrade) shares one deadline,
  // so a client cannot hold a connection open by dribbling out a handshake.
  asio::steady_timer deadline(io_context_, config_.limits.tls_handshake_timeout);
  boost::system::error_code error;
  metrics::TlsFailureReason tls_failure = metrics::TlsFailureReason::kOther;
  auto opened = co_await (
      net::Catching(OpenClientStream(std::move(socket), setup, identity, tls_failure), error) ||
      deadline.async_wait(asio::use_awaitable));
  std::unique_ptr<net::ByteStream> stream;
  if (opened.index() == 0) stream = std::move(std::get<0>(opened));
  if (!stream) {
    if (setup.tls_context && (error || opened.index() == 1)) {
      if (opened.index() == 1) tls_failure = metrics::TlsFailureReason::kTimeout;
      counters_.Add<metrics::Metric::kTlsHandshakeFailuresTotal>(setup.id, tls_failure);
    }
    co_return;
  }
  if (stopping_) co_return;

  const SessionEnvironment& env =
      session_environments_[static_cast<size_t>(&setup - listeners_.data())];
  // The session outlives this coroutine: once admitted it runs on callbacks, and it
  // hands itself back through SessionFinished().
  auto* session = new Session(std::move(stream), std::move(identity), env);
  sessions_.insert(session);
  closed.open = nullptr;
  co_await session->Start();
}

void Worker::SessionFinished(Session* session) {
  sessions_.erase(session);
  delete session;
  trimmer_.Closed(--open_connections_);
}

}  // namespace moat::proxy
