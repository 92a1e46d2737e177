#include "proxy/worker.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
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

Worker::ListenerRuntime::ListenerRuntime(Worker& worker,
                                         std::shared_ptr<const LiveConfig> live_config,
                                         ListenerSetup listener_setup)
    : live(std::move(live_config)),
      setup(std::move(listener_setup)),
      setup_context{.listener = *setup.listener,
                    .tls_context = setup.tls_context,
                    .listener_id = setup.id,
                    .counters = worker.counters_,
                    .gate = worker.gate_,
                    .bans = worker.auth_.bans.get(),
                    .manual_bans = worker.auth_.manual_bans.get(),
                    .limits = live->config->limits},
      session_environment{.live = *live,
                          .config = *live->config,
                          .upstream = *live->upstream,
                          .counters = worker.counters_,
                          .listener = setup.id,
                          .auth = worker.auth_,
                          .owner = worker,
                          .preauth = worker.preauth_,
                          .executor = worker.io_context_.get_executor(),
                          .relay = {.authorizer = worker.authorizer_,
                                    .clock = SteadyClock(),
                                    .drain_timeout = live->config->limits.drain_timeout,
                                    .max_packet_size = live->config->limits.max_packet_size,
                                    .sweep = worker.short_read_sweep_,
                                    .stalls = worker.write_stalls_,
                                    .write_timeout = live->config->limits.write_timeout,
                                    .on_rate_exceeded = live->config->limits.rates.on_exceeded}} {}

Worker::Worker(std::shared_ptr<const policy::Authorizer> authorizer, AuthServices& auth,
               ConnectionGate& gate, PreauthMemory& preauth, metrics::ThreadCounters& counters)
    : auth_(auth),
      gate_(gate),
      counters_(counters),
      preauth_(preauth, counters),
      authorizer_(std::move(authorizer)) {}

Worker::~Worker() {
  Join();
  // Sessions the io_context stopped for before they finished; their pending callbacks
  // are destroyed with it, never run.
  for (Session* session : sessions_) delete session;
}

absl::Status Worker::BindNew(WorkerConfig& config) {
  for (const ListenerSetup& setup : config.listeners) {
    const config::Listener& listener = *setup.listener;
    const std::pair<std::string, std::string> key(listener.name, listener.bind.ToString());
    if (std::find(announced_.begin(), announced_.end(), key) != announced_.end()) continue;
    auto endpoint = ResolveBind(listener.bind);
    if (!endpoint.ok()) return endpoint.status();
    // A reload binds from the control thread while the worker runs: the acceptor is only
    // handed to the worker's thread once bound, through Reconfigure()'s post.
    auto acceptor = std::make_unique<tcp::acceptor>(io_context_);
    boost::system::error_code ec;
    const auto fail = [&](std::string_view step) {
      return absl::UnavailableError("listener '" + listener.name + "' " + listener.bind.ToString() +
                                    ": " + std::string(step) + ": " + ec.message());
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
    net::EnableTcpKeepAlive(acceptor->native_handle(), config.live->config->limits.tcp_keepalive);
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    config.bound[listener.name] = std::move(acceptor);
  }
  return absl::OkStatus();
}

void Worker::Reconfigure(WorkerConfig config) {
  announced_.clear();
  for (const ListenerSetup& setup : config.listeners) {
    announced_.emplace_back(setup.listener->name, setup.listener->bind.ToString());
  }
  if (!started_) {
    ApplyConfig(std::move(config));
    return;
  }
  // std::function needs a copyable callable: the acceptors travel in a shared_ptr.
  auto shared = std::make_shared<WorkerConfig>(std::move(config));
  asio::post(io_context_, [this, shared] { ApplyConfig(std::move(*shared)); });
}

void Worker::ApplyConfig(WorkerConfig config) {
  live_ = config.live;
  std::vector<std::shared_ptr<Listening>> kept;
  for (const ListenerSetup& setup : config.listeners) {
    auto runtime = std::make_shared<const ListenerRuntime>(*this, config.live, setup);
    auto bound = config.bound.find(setup.listener->name);
    if (bound == config.bound.end()) {
      // Listening already: new connections come in under the new runtime.
      for (auto& open : listening_) {
        if (open->name == setup.listener->name) {
          open->runtime = runtime;
          // limits.tcp_keepalive for the connections accepted from now on.
          net::EnableTcpKeepAlive(open->acceptor->native_handle(),
                                  config.live->config->limits.tcp_keepalive);
          kept.push_back(open);
        }
      }
      continue;
    }
    auto listening = std::make_shared<Listening>();
    listening->name = setup.listener->name;
    listening->bind = setup.listener->bind;
    listening->acceptor = std::move(bound->second);
    listening->runtime = std::move(runtime);
    kept.push_back(listening);
    if (started_ && !stopping_) asio::co_spawn(io_context_, AcceptLoop(listening), asio::detached);
  }
  for (auto& open : listening_) {
    if (std::find(kept.begin(), kept.end(), open) != kept.end()) continue;
    // Removed (or moved to another address): its sessions go on, its acceptor stops.
    boost::system::error_code ignored;
    open->acceptor->close(ignored);
  }
  listening_ = std::move(kept);
}

void Worker::Start() {
  started_ = true;
  for (auto& listening : listening_) {
    asio::co_spawn(io_context_, AcceptLoop(listening), asio::detached);
  }
  thread_ = std::thread([this] { io_context_.run(); });
}

void Worker::Stop() {
  asio::post(io_context_, [this] {
    if (stopping_) return;
    stopping_ = true;
    for (auto& listening : listening_) {
      boost::system::error_code ignored;
      listening->acceptor->close(ignored);
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

void Worker::SetAuthorizer(std::shared_ptr<const policy::Authorizer> authorizer, bool revoke) {
  asio::post(io_context_, [this, authorizer = std::move(authorizer), revoke]() mutable {
    const std::shared_ptr<const policy::Authorizer> previous = std::move(authorizer_);
    authorizer_ = std::move(authorizer);
    // Reconfigure() was posted first: live_ is the config this policy came with.
    const config::DeniedPublish on_denied = live_->config->policy.on_denied_publish;
    for (Session* session : sessions_) session->PolicyChanged(*previous, revoke, on_denied);
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
  const auto deadline = std::chrono::steady_clock::now() + live_->config->limits.drain_timeout;
  asio::steady_timer timer(io_context_);
  while (!sessions_.empty() && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
  for (Session* session : sessions_) session->Abort();
}

asio::awaitable<void> Worker::AcceptLoop(std::shared_ptr<Listening> listening) {
  tcp::acceptor& acceptor = *listening->acceptor;
  asio::steady_timer backoff(io_context_);
  while (!stopping_ && acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping_ || !acceptor.is_open()) break;
    if (ec) {
      // Out of file descriptors: wait for some to be freed instead of spinning.
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    // Read at each accept: a reload may have replaced it.
    std::shared_ptr<const ListenerRuntime> runtime = listening->runtime;
    const ConnectionSetupContext& context = runtime->setup_context;
    counters_.Add<metrics::Metric::kConnectionsAcceptedTotal>(runtime->setup.id);
    boost::system::error_code peer_error;
    const auto peer = socket.remote_endpoint(peer_error);
    std::string address = peer_error ? "unknown" : peer.address().to_string();
    ConnectionGate::Ticket ticket;
    if (const auto refusal = gate_.Open(ticket)) {
      ReportRefusedConnection(context, *refusal, address);
      net::ResetOnClose(socket);
      continue;  // the socket closes as it goes out of scope
    }
    if (!runtime->setup.listener->proxy_protocol && !ScreenAddress(context, ticket, address)) {
      net::ResetOnClose(socket);
      continue;
    }
    asio::co_spawn(
        io_context_,
        Serve(std::move(socket), std::move(ticket), std::move(address), std::move(runtime)),
        asio::detached);
  }
}

asio::awaitable<void> Worker::Serve(tcp::socket socket, ConnectionGate::Ticket ticket,
                                    std::string address,
                                    std::shared_ptr<const ListenerRuntime> runtime) {
  // Counted until the session is finished, or until this coroutine gives up on it.
  trimmer_.Opened(++open_connections_);
  struct Closed {
    uint64_t* open;
    ~Closed() {
      if (open != nullptr) --*open;
    }
  } closed{&open_connections_};
  std::optional<OpenedClient> opened = co_await OpenClient(
      std::move(socket), std::move(ticket), std::move(address), runtime->setup_context);
  if (!opened || stopping_) co_return;
  // The session outlives this coroutine: once admitted it runs on callbacks, and it
  // hands itself back through SessionFinished().
  const SteadyTime accepted = opened->accepted;
  const SessionEnvironment& env = runtime->session_environment;
  auto* session = new Session(std::move(*opened), env, std::move(runtime));
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
