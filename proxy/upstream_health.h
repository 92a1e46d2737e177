// What every worker thread knows about each upstream server: up or down, its open links,
// and, while it is down, when it is probed next. A client's failed attempt (refused,
// timed out, TLS, or a CONNECT left unanswered) marks a server down; from then on only a
// background probe, on this object's own thread, ever touches it, after a pause that
// doubles with each failed probe up to a cap. No client waits on a server that is down.
//
//   worker threads: IsUp() / Failed() / LinkOpened() / LinkClosed()   (atomics, a mutex
//                                                                       on down/up only)
//   probe thread:   every kTick: each server down whose pause is over
//                     -> TCP (+TLS) -> MQTT CONNECT (moat's service account with
//                        upstream.credentials: replace) -> any answer: up again
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.h"
#include "proxy/config/config.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {

struct UpstreamHealthOptions {
  std::chrono::milliseconds first_pause{250};  // down -> first probe
  std::chrono::milliseconds max_pause{2000};   // the longest pause between probes
  std::chrono::milliseconds tick{50};          // how often the probe thread looks
};

class UpstreamHealth {
 public:
  // `metrics` may be null (tests). `service_password`: upstream.credentials: replace.
  UpstreamHealth(const config::Upstream& upstream, std::vector<tls::SslCtxPtr> tls_contexts,
                 std::chrono::seconds tcp_keepalive, std::string service_password,
                 metrics::MetricsRegistry* metrics, UpstreamHealthOptions options = {});
  ~UpstreamHealth();
  UpstreamHealth(const UpstreamHealth&) = delete;
  UpstreamHealth& operator=(const UpstreamHealth&) = delete;

  // The probe thread.
  void Start();
  void Stop();

  size_t size() const { return servers_.size(); }
  // upstream.address and upstream.tls as this server's own, for an UpstreamConnector.
  const config::Upstream& Settings(size_t server) const { return servers_[server]->settings; }
  const std::string& Name(size_t server) const { return servers_[server]->name; }
  std::chrono::seconds tcp_keepalive() const { return tcp_keepalive_; }
  // Thread-safe: the context in force for new links (a reload swaps them).
  tls::SslCtxPtr TlsContext(size_t server) const;
  void SetTlsContexts(std::vector<tls::SslCtxPtr> contexts);

  bool IsUp(size_t server) const { return servers_[server]->up.load(std::memory_order_relaxed); }
  bool AnyUp() const;
  // A client's attempt failed with `error`: counted, and the server down until a probe
  // finds it answering again.
  void Failed(size_t server, const boost::system::error_code& error);
  // The latest failure of any server, for the clients that found none up.
  boost::system::error_code LastError() const;

  void LinkOpened(size_t server);
  void LinkClosed(size_t server);
  int64_t Links(size_t server) const {
    return servers_[server]->links.load(std::memory_order_relaxed);
  }

 private:
  struct Server {
    config::Upstream settings;
    std::string name;  // host:port as configured, the metrics label
    // Its `server` label; nullopt without metrics, or once a run's spare names are used up.
    std::optional<metrics::UpstreamServerId> metrics_id;
    std::atomic<bool> up{true};
    std::atomic<int64_t> links{0};
    std::mutex mutex;  // guards what follows
    tls::SslCtxPtr tls_context;
    uint32_t failures = 0;  // in a row, since it was last up
    std::chrono::steady_clock::time_point next_probe{};
    bool probing = false;
    boost::system::error_code last_error;
  };

  boost::asio::awaitable<void> ProbeLoop();
  boost::asio::awaitable<void> Probe(size_t server);
  // TCP, TLS, and any answer to an MQTT CONNECT, within upstream.connect_timeout.
  boost::asio::awaitable<void> Reach(size_t server);
  void ProbeDone(size_t server, const boost::system::error_code& error);
  void SetUpGauge(size_t server, bool up);

  const std::chrono::seconds tcp_keepalive_;
  const std::string service_password_;
  metrics::MetricsRegistry* const metrics_;
  const UpstreamHealthOptions options_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::atomic<uint64_t> last_failure_{0};  // index + 1 of the server that failed last
  boost::asio::io_context io_{1};
  boost::asio::cancellation_signal stop_;
  std::thread thread_;
};

}  // namespace moat::proxy
