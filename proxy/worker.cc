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

#include "proxy/auth/auth_services.h"
#include "proxy/log.h"
#include "proxy/net/socket_options.h"
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

}  // namespace

Worker::Worker(const config::Config& config, std::shared_ptr<const policy::Authorizer> authorizer,
               AuthServices& auth, ConnectionGate& gate, PreauthMemory& preauth,
               metrics::ThreadCounters& counters, std::vector<ListenerSetup> listeners,
               const Upstream& upstream)
    : config_(config),
      auth_(auth),
      gate_(gate),
      listeners_(std::move(listeners)),
      upstream_(upstream),
      counters_(counters),
      preauth_(preauth, counters),
      authorizer_(std::move(authorizer)) {
  session_environments_.reserve(listeners_.size());
  setup_contexts_.reserve(listeners_.size());
  for (const ListenerSetup& setup : listeners_) {
    setup_contexts_.push_back({.listener = *setup.listener,
                               .tls_context = setup.tls_context,
                               .listener_id = setup.id,
                               .counters = counters_,
                               .gate = gate_,
                               .bans = auth_.bans.get(),
                               .manual_bans = auth_.manual_bans.get(),
                               .limits = config_.limits});
    session_environments_.push_back(
        {.config = config_,
         .upstream = upstream_,
         .counters = counters_,
         .listener = setup.id,
         .auth = auth_,
         .owner = *this,
         .preauth = preauth_,
         .executor = io_context_.get_executor(),
         .relay = {.authorizer = authorizer_,
                   .clock = SteadyClock(),
                   .drain_timeout = config_.limits.drain_timeout,
                   .max_packet_size = config_.limits.max_packet_size,
                   .sweep = short_read_sweep_,
                   .stalls = write_stalls_,
                   .write_timeout = config_.limits.write_timeout,
                   .on_rate_exceeded = config_.limits.rates.on_exceeded}});
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
    // Inherited by every accepted connection.
    net::EnableTcpKeepAlive(acceptor->native_handle(), config_.limits.tcp_keepalive);
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
    const std::shared_ptr<const policy::Authorizer> previous = std::move(authorizer_);
    authorizer_ = std::move(authorizer);
    for (Session* session : sessions_) {
      session->PolicyChanged(*previous, config_.auth.disconnect_revoked);
    }
  });
}

void Worker::SetTlsContexts(std::vector<tls::SslCtxPtr> listeners) {
  asio::post(io_context_, [this, listeners = std::move(listeners)]() mutable {
    for (size_t i = 0; i < listeners_.size() && i < listeners.size(); ++i) {
      listeners_[i].tls_context = std::move(listeners[i]);
    }
  });
}

void Worker::RecheckCertificates(
    std::vector<std::shared_ptr<const tls::CertificateRecheck>> checks) {
  asio::post(io_context_, [this, checks = std::move(checks)] {
    for (Session* session : sessions_) {
      const size_t listener = session->listener().index;
      if (listener < checks.size() && checks[listener]) {
        session->RevokeIfCertificateRefused(*checks[listener]);
      }
    }
  });
}

void Worker::CollectSessions(std::function<void(std::vector<SessionSnapshot>)> done) {
  asio::post(io_context_, [this, done = std::move(done)] {
    std::vector<SessionSnapshot> snapshots;
    for (const Session* session : sessions_) {
      if (auto snapshot = session->Snapshot()) snapshots.push_back(*std::move(snapshot));
    }
    done(std::move(snapshots));
  });
}

void Worker::EndSessions(std::function<bool(const policy::ClientIdentity&)> match,
                         std::function<void(size_t)> done) {
  asio::post(io_context_, [this, match = std::move(match), done = std::move(done)] {
    // EndByAdmin() hands sessions back to SessionFinished() through a post, never from
    // here, so sessions_ holds still while it is walked.
    size_t ended = 0;
    for (Session* session : sessions_) {
      if (match(session->identity())) {
        session->EndByAdmin();
        ++ended;
      }
    }
    done(ended);
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
    const size_t index = static_cast<size_t>(&setup - listeners_.data());
    counters_.Add<metrics::Metric::kConnectionsAcceptedTotal>(setup.id);
    boost::system::error_code peer_error;
    const auto peer = socket.remote_endpoint(peer_error);
    std::string address = peer_error ? "unknown" : peer.address().to_string();
    ConnectionGate::Ticket ticket;
    if (const auto refusal = gate_.Open(ticket)) {
      ReportRefusedConnection(setup_contexts_[index], *refusal, address);
      net::ResetOnClose(socket);
      continue;  // the socket closes as it goes out of scope
    }
    if (!setup.listener->proxy_protocol &&
        !ScreenAddress(setup_contexts_[index], ticket, address)) {
      net::ResetOnClose(socket);
      continue;
    }
    asio::co_spawn(io_context_,
                   Serve(std::move(socket), std::move(ticket), std::move(address), index),
                   asio::detached);
  }
}

asio::awaitable<void> Worker::Serve(tcp::socket socket, ConnectionGate::Ticket ticket,
                                    std::string address, size_t listener) {
  // Counted until the session is finished, or until this coroutine gives up on it.
  trimmer_.Opened(++open_connections_);
  struct Closed {
    uint64_t* open;
    ~Closed() {
      if (open != nullptr) --*open;
    }
  } closed{&open_connections_};
  std::optional<OpenedClient> opened = co_await OpenClient(
      std::move(socket), std::move(ticket), std::move(address), setup_contexts_[listener]);
  if (!opened || stopping_) co_return;
  // The session outlives this coroutine: once admitted it runs on callbacks, and it
  // hands itself back through SessionFinished().
  const SteadyTime accepted = opened->accepted;
  auto* session = new Session(std::move(*opened), session_environments_[listener]);
  sessions_.insert(session);
  closed.open = nullptr;
  co_await session->Start(accepted);
}

void Worker::SessionFinished(Session* session) {
  sessions_.erase(session);
  delete session;
  trimmer_.Closed(--open_connections_);
}

}  // namespace moat::proxy
