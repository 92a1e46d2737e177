// What /readyz says about the broker, kept current in the background so that answering
// it never waits on the network: a broker that drops SYNs must not delay /metrics or
// /healthz, which share the metrics thread.
//
//   check thread:   connect to each upstream server (TCP only, <= timeout), close +
//                   wait `period`, again                                         | verdict,
//                                                                                v under a mutex
//   metrics thread: GET /readyz --> UpstreamReadiness::Report() reads the last verdict
//
// The broker is what moat is for, so "reachable" is what ready means, as before: a TCP
// connect, no TLS and no MQTT, closed at once (the broker may log each one). With
// several upstream servers, one reachable is enough: new clients go to it.
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "metrics/http_server.h"
#include "proxy/config/config.h"
#include "proxy/upstream.h"

namespace moat::proxy {

struct ReadinessOptions {
  std::chrono::milliseconds period{2000};   // from the end of one check to the next
  std::chrono::milliseconds timeout{2000};  // a check that takes longer failed
};

// Every 2 s, each check given upstream.connect_timeout but at most 2 s.
ReadinessOptions DefaultReadinessOptions(const config::Upstream& upstream);

class UpstreamReadiness {
 public:
  UpstreamReadiness(const config::Upstream& upstream, ReadinessOptions options);
  UpstreamReadiness(const UpstreamReadiness&) = delete;
  UpstreamReadiness& operator=(const UpstreamReadiness&) = delete;
  ~UpstreamReadiness();  // Stop()

  // Starts the check thread; the first check begins at once.
  void Start();
  // Cancels the check in flight and joins the thread. Idempotent.
  void Stop();

  // Thread-safe and never waits for a check: not ready until the first check has
  // finished, then that check's outcome; the note says how old it is.
  metrics::ReadinessReport Report() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Verdict {
    std::optional<std::string> problem;  // nullopt: reachable
    Clock::time_point finished;
  };

  boost::asio::awaitable<void> CheckLoop();
  boost::asio::awaitable<std::optional<std::string>> Check();

  // One per server, each without tls: the check is TCP only.
  std::vector<config::Upstream> servers_;
  std::string names_;  // the servers, for messages
  const ReadinessOptions options_;
  const Clock::time_point created_ = Clock::now();
  boost::asio::io_context io_{1};
  boost::asio::cancellation_signal stop_;
  mutable std::mutex mutex_;
  std::optional<Verdict> verdict_;  // guarded by mutex_; nullopt until the first check ends
  std::thread thread_;
};

}  // namespace moat::proxy
