#include "proxy/upstream_health.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "proxy/log.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/net/catching.h"
#include "proxy/upstream.h"
#include "proxy/upstream_select.h"

namespace moat::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

// Each probe logs in under a client id of its own, so that two moat replicas probing
// the same broker never take each other's session over.
std::string ProbeClientId() {
  std::random_device random;
  char id[32];
  std::snprintf(id, sizeof(id), "moat-probe-%08x%08x", static_cast<unsigned>(random()),
                static_cast<unsigned>(random()));
  return id;
}

}  // namespace

UpstreamHealth::UpstreamHealth(const config::Upstream& upstream,
                               std::vector<tls::SslCtxPtr> tls_contexts,
                               std::chrono::seconds tcp_keepalive, std::string service_password,
                               metrics::MetricsRegistry* metrics, UpstreamHealthOptions options)
    : tcp_keepalive_(tcp_keepalive),
      service_password_(std::move(service_password)),
      metrics_(metrics),
      options_(options) {
  for (size_t i = 0; i < upstream.servers.size(); ++i) {
    auto server = std::make_unique<Server>();
    server->settings = upstream;
    server->settings.address = upstream.servers[i].address;
    server->settings.tls = upstream.servers[i].tls;
    server->settings.servers.clear();
    server->name = upstream.servers[i].address.ToString();
    // By name, not position: a reload may give the same server another place in the list.
    if (metrics_ != nullptr) server->metrics_id = metrics_->AddUpstreamServer(server->name);
    if (i < tls_contexts.size()) server->tls_context = std::move(tls_contexts[i]);
    servers_.push_back(std::move(server));
    SetUpGauge(i, true);
  }
}

UpstreamHealth::~UpstreamHealth() { Stop(); }

void UpstreamHealth::Start() {
  asio::co_spawn(io_, ProbeLoop(), asio::bind_cancellation_slot(stop_.slot(), asio::detached));
  thread_ = std::thread([this] { io_.run(); });
}

void UpstreamHealth::Stop() {
  if (!thread_.joinable()) return;
  // Probes under way end with the io_context; the loop's pause ends as cancelled.
  asio::post(io_, [this] {
    stop_.emit(asio::cancellation_type::terminal);
    io_.stop();
  });
  thread_.join();
}

tls::SslCtxPtr UpstreamHealth::TlsContext(size_t server) const {
  std::lock_guard lock(servers_[server]->mutex);
  return servers_[server]->tls_context;
}

void UpstreamHealth::SetTlsContexts(std::vector<tls::SslCtxPtr> contexts) {
  for (size_t i = 0; i < servers_.size() && i < contexts.size(); ++i) {
    std::lock_guard lock(servers_[i]->mutex);
    servers_[i]->tls_context = std::move(contexts[i]);
  }
}

bool UpstreamHealth::AnyUp() const {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (IsUp(i)) return true;
  }
  return false;
}

void UpstreamHealth::Failed(size_t server_index, const boost::system::error_code& error) {
  Server& server = *servers_[server_index];
  if (server.metrics_id) {
    metrics_->Add<metrics::Metric::kUpstreamServerConnectErrorsTotal>(*server.metrics_id);
  }
  last_failure_.store(server_index + 1, std::memory_order_relaxed);
  {
    std::lock_guard lock(server.mutex);
    server.last_error = error;
    // Another client, or a probe, may have got here first.
    if (!server.up.load(std::memory_order_relaxed)) return;
    server.up.store(false, std::memory_order_relaxed);
    server.failures = 1;
    server.next_probe = Clock::now() + ProbeBackoff(1, options_.first_pause, options_.max_pause);
  }
  SetUpGauge(server_index, false);
  LogWarning(absl::StrCat("upstream server ", server.name, " down (", error.message(),
                          "): new clients go to the others while it is probed"));
}

boost::system::error_code UpstreamHealth::LastError() const {
  const uint64_t last = last_failure_.load(std::memory_order_relaxed);
  if (last == 0) return asio::error::connection_refused;
  Server& server = *servers_[last - 1];
  std::lock_guard lock(server.mutex);
  return server.last_error;
}

void UpstreamHealth::LinkOpened(size_t server) {
  servers_[server]->links.fetch_add(1, std::memory_order_relaxed);
  if (const auto id = servers_[server]->metrics_id) {
    metrics_->GaugeAdd<metrics::Metric::kUpstreamServerConnections>(*id, +1);
  }
}

void UpstreamHealth::LinkClosed(size_t server) {
  servers_[server]->links.fetch_sub(1, std::memory_order_relaxed);
  if (const auto id = servers_[server]->metrics_id) {
    metrics_->GaugeAdd<metrics::Metric::kUpstreamServerConnections>(*id, -1);
  }
}

void UpstreamHealth::SetUpGauge(size_t server, bool up) {
  if (const auto id = servers_[server]->metrics_id) {
    metrics_->Set<metrics::Metric::kUpstreamServerUp>(*id, up ? 1 : 0);
  }
}

asio::awaitable<void> UpstreamHealth::ProbeLoop() {
  asio::steady_timer tick(io_);
  for (;;) {
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < servers_.size(); ++i) {
      Server& server = *servers_[i];
      if (server.up.load(std::memory_order_relaxed)) continue;
      {
        std::lock_guard lock(server.mutex);
        if (server.probing || now < server.next_probe) continue;
        server.probing = true;
      }
      // Unlocked: co_spawn may start the probe right here, and it takes the lock.
      asio::co_spawn(io_, Probe(i), asio::detached);
    }
    tick.expires_after(options_.tick);
    co_await tick.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> UpstreamHealth::Probe(size_t server) {
  boost::system::error_code error;
  co_await net::Catching(Reach(server), error);
  ProbeDone(server, error);
}

asio::awaitable<void> UpstreamHealth::Reach(size_t server_index) {
  const Server& server = *servers_[server_index];
  const UpstreamConnector connector(server.settings, TlsContext(server_index), tcp_keepalive_);
  std::unique_ptr<net::ByteStream> link = co_await connector.Connect(UpstreamRequest{});

  // A broker that takes TCP but never answers a CONNECT is as good as down: it must
  // answer this one. Any CONNACK will do, a refusal too: it is the broker speaking.
  const std::string client_id = ProbeClientId();
  mqtt::Connect connect;
  connect.client_id = client_id;
  connect.keep_alive = 0;
  if (server.settings.credentials == config::UpstreamCredentials::kReplace) {
    connect.username = server.settings.username;
    if (!service_password_.empty()) connect.password = service_password_;
  }
  std::vector<uint8_t> bytes;
  if (mqtt::Encode(connect, connect.version, bytes) != mqtt::EncodeError::kNone) {
    throw boost::system::system_error(asio::error::invalid_argument);
  }
  const asio::const_buffer buffer(bytes.data(), bytes.size());
  co_await link->WriteAll({&buffer, 1});
  mqtt::Decoder decoder({mqtt::Direction::kServerToClient, 1024});
  asio::steady_timer timer(co_await asio::this_coro::executor, server.settings.connect_timeout);
  boost::system::error_code error;
  auto result = co_await (net::Catching(link->ReadInto(decoder), error) ||
                          timer.async_wait(asio::use_awaitable));
  if (result.index() == 1) throw boost::system::system_error(asio::error::timed_out);
  if (error) throw boost::system::system_error(error);
  if (std::get<0>(result) == 0) throw boost::system::system_error(asio::error::eof);
  // DISCONNECT, so the broker logs a clean goodbye rather than a lost client.
  static constexpr uint8_t kDisconnect[] = {0xE0, 0x00};
  const asio::const_buffer goodbye(kDisconnect, sizeof(kDisconnect));
  boost::system::error_code ignored;
  co_await net::Catching(link->WriteAll({&goodbye, 1}), ignored);
  link->ShutdownNow();
}

void UpstreamHealth::ProbeDone(size_t server_index, const boost::system::error_code& error) {
  Server& server = *servers_[server_index];
  if (error) {
    if (server.metrics_id) {
      metrics_->Add<metrics::Metric::kUpstreamServerConnectErrorsTotal>(*server.metrics_id);
    }
    std::lock_guard lock(server.mutex);
    server.probing = false;
    server.last_error = error;
    ++server.failures;
    server.next_probe =
        Clock::now() + ProbeBackoff(server.failures, options_.first_pause, options_.max_pause);
    return;
  }
  {
    std::lock_guard lock(server.mutex);
    server.probing = false;
    server.failures = 0;
    server.up.store(true, std::memory_order_relaxed);
  }
  SetUpGauge(server_index, true);
  LogInfo(absl::StrCat("upstream server ", server.name, " answers again: back in rotation"));
}

}  // namespace moat::proxy
