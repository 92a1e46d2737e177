#include "proxy/readiness.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

namespace moat::proxy {

namespace asio = boost::asio;

namespace {

config::Upstream WithoutTls(config::Upstream upstream, std::chrono::milliseconds timeout) {
  upstream.tls.reset();
  upstream.connect_timeout = timeout;
  return upstream;
}

std::string Seconds(std::chrono::steady_clock::duration duration) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1fs", std::chrono::duration<double>(duration).count());
  return text;
}

}  // namespace

ReadinessOptions DefaultReadinessOptions(const config::Upstream& upstream) {
  ReadinessOptions options;
  options.timeout = std::min(upstream.connect_timeout, options.timeout);
  return options;
}

UpstreamReadiness::UpstreamReadiness(const config::Upstream& upstream, ReadinessOptions options)
    : options_(options) {
  std::vector<config::Endpoint> addresses;
  for (const config::UpstreamServer& server : upstream.servers) addresses.push_back(server.address);
  if (addresses.empty()) addresses.push_back(upstream.address);
  for (const config::Endpoint& address : addresses) {
    config::Upstream one = WithoutTls(upstream, options.timeout);
    one.address = address;
    one.servers.clear();
    servers_.push_back(std::move(one));
    names_ += (names_.empty() ? "" : ", ") + address.ToString();
  }
}

UpstreamReadiness::~UpstreamReadiness() { Stop(); }

void UpstreamReadiness::Start() {
  asio::co_spawn(io_, CheckLoop(), asio::bind_cancellation_slot(stop_.slot(), asio::detached));
  thread_ = std::thread([this] { io_.run(); });
}

void UpstreamReadiness::Stop() {
  if (!thread_.joinable()) return;
  // The check's connect and the pause between checks end as cancelled; run() then
  // returns for want of work.
  asio::post(io_, [this] { stop_.emit(asio::cancellation_type::terminal); });
  thread_.join();
}

asio::awaitable<void> UpstreamReadiness::CheckLoop() {
  asio::steady_timer pause(io_);
  for (;;) {
    std::optional<std::string> problem = co_await Check();
    {
      std::lock_guard lock(mutex_);
      verdict_ = Verdict{std::move(problem), Clock::now()};
    }
    pause.expires_after(options_.period);
    co_await pause.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<std::optional<std::string>> UpstreamReadiness::Check() {
  std::string problems;
  for (const config::Upstream& server : servers_) {
    boost::system::error_code error;
    try {
      const UpstreamConnector connector(server, nullptr);
      co_await connector.Connect(UpstreamRequest{});  // the link closes as it goes out of scope
      co_return std::nullopt;
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::operation_aborted) throw;  // Stop()
      error = e.code();
    }
    const std::string why = error == asio::error::timed_out
                                ? "no answer within " + Seconds(options_.timeout)
                                : error.message();
    problems += (problems.empty() ? "" : "; ") +
                ("upstream " + server.address.ToString() + " unreachable: " + why);
  }
  co_return problems;
}

metrics::ReadinessReport UpstreamReadiness::Report() const {
  std::optional<Verdict> verdict;
  {
    std::lock_guard lock(mutex_);
    verdict = verdict_;
  }
  const Clock::time_point now = Clock::now();
  if (!verdict) {
    return {.problems = {"upstream " + names_ + ": no check has finished yet"},
            .note = "checking since " + Seconds(now - created_) + " ago"};
  }
  metrics::ReadinessReport report{.note = "upstream checked " + Seconds(now - verdict->finished) +
                                          " ago"};
  if (verdict->problem) report.problems.push_back(*verdict->problem);
  return report;
}

}  // namespace moat::proxy
