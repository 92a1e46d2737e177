// UpstreamReadiness (issue 14, item 8): /readyz's verdict on the broker, kept by a
// background check, so that reading it never waits, whatever the broker does.
#include "proxy/readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

namespace moat::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using namespace std::chrono_literals;

// Polls `condition` until it holds or 10 s have passed.
bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

// A connect_timeout far beyond any test: only the readiness options may bound a check.
config::Upstream UpstreamAt(uint16_t port) {
  config::Upstream upstream;
  upstream.address = {.host = "127.0.0.1", .port = port};
  upstream.connect_timeout = 1h;
  return upstream;
}

// A listener that never accepts, its queue full: Linux then drops every further SYN, so
// a connect to it neither completes nor is refused; the client retransmits and waits,
// as it would for a broker behind a firewall that drops packets.
class SynDroppingListener {
 public:
  SynDroppingListener() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen(1);
    // A backlog of 1 holds two connections: the queue counts as full past the backlog.
    for (int i = 0; i < 2; ++i) {
      fillers_.emplace_back(io_);
      fillers_.back().connect(acceptor_.local_endpoint());
    }
  }

  // The kernel's own view of the listener: for a listening socket tcpi_unacked is the
  // accept queue's length and tcpi_sacked its limit.
  bool Full() {
    tcp_info info{};
    socklen_t size = sizeof(info);
    if (getsockopt(acceptor_.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
      return false;
    }
    return info.tcpi_unacked > info.tcpi_sacked;
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::vector<tcp::socket> fillers_;
};

// Whether `readiness` comes to report exactly `problem`, and nothing else.
bool EventuallyReportsOnly(const UpstreamReadiness& readiness, const std::string& problem) {
  return Eventually([&] { return readiness.Report().problems == std::vector{problem}; });
}

uint16_t ClosedPort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();  // closed again as it goes out of scope
}

TEST(UpstreamReadiness, IsReadyWhenTheBrokerAccepts) {
  asio::io_context io;
  tcp::acceptor broker(io, {asio::ip::make_address("127.0.0.1"), 0});
  UpstreamReadiness readiness(UpstreamAt(broker.local_endpoint().port()), {10ms, 2s});
  readiness.Start();
  EXPECT_TRUE(Eventually([&] { return readiness.Report().problems.empty(); }));
  EXPECT_THAT(readiness.Report().note, MatchesRegex("upstream checked [0-9]+\\.[0-9]s ago"));
}

TEST(UpstreamReadiness, IsNotReadyWhenTheBrokerRefuses) {
  const uint16_t port = ClosedPort();
  UpstreamReadiness readiness(UpstreamAt(port), {10ms, 2s});
  readiness.Start();
  EXPECT_TRUE(EventuallyReportsOnly(
      readiness, "upstream 127.0.0.1:" + std::to_string(port) + " unreachable: Connection refused"))
      << ::testing::PrintToString(readiness.Report().problems);
}

TEST(UpstreamReadiness, GivesUpOnABrokerThatDropsSyns) {
  SynDroppingListener broker;
  ASSERT_TRUE(Eventually([&] { return broker.Full(); }));
  UpstreamReadiness readiness(UpstreamAt(broker.port()), {10ms, 100ms});
  readiness.Start();
  EXPECT_TRUE(
      EventuallyReportsOnly(readiness, "upstream 127.0.0.1:" + std::to_string(broker.port()) +
                                           " unreachable: no answer within 0.1s"))
      << ::testing::PrintToString(readiness.Report().problems);
}

// The check hangs for up to an hour; Report() answers at once all the same, and Stop()
// cancels the check instead of waiting for it.
TEST(UpstreamReadiness, AnswersAtOnceAndStopsWhileACheckHangs) {
  SynDroppingListener broker;
  ASSERT_TRUE(Eventually([&] { return broker.Full(); }));
  UpstreamReadiness readiness(UpstreamAt(broker.port()), {10ms, 1h});
  readiness.Start();
  const metrics::ReadinessReport report = readiness.Report();
  EXPECT_THAT(report.problems, ElementsAre("upstream 127.0.0.1:" + std::to_string(broker.port()) +
                                           ": no check has finished yet"));
  EXPECT_THAT(report.note, MatchesRegex("checking since [0-9]+\\.[0-9]s ago"));
  readiness.Stop();
}

TEST(UpstreamReadiness, IsNotReadyBeforeStart) {
  UpstreamReadiness readiness(UpstreamAt(ClosedPort()), {10ms, 2s});
  EXPECT_THAT(readiness.Report().problems, ElementsAre(HasSubstr("no check has finished yet")));
  readiness.Stop();  // without Start(): nothing to stop
}

TEST(DefaultReadinessOptions, ChecksEveryTwoSecondsWithinTheConnectTimeoutAtMostTwo) {
  config::Upstream upstream;
  upstream.connect_timeout = 5s;
  EXPECT_EQ(DefaultReadinessOptions(upstream).period, 2s);
  EXPECT_EQ(DefaultReadinessOptions(upstream).timeout, 2s);
  upstream.connect_timeout = 300ms;
  EXPECT_EQ(DefaultReadinessOptions(upstream).timeout, 300ms);
}

}  // namespace
}  // namespace moat::proxy
