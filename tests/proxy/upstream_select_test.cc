// Choosing an upstream server (proxy/upstream_select.h) and the health state behind it
// (proxy/upstream_health.h): rendezvous hashing keeps each client id on its server and
// moves only a failed server's ids, round robin and least connections skip servers that
// are down, and the probe pause doubles up to its cap.
#include "proxy/upstream_select.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "proxy/upstream_health.h"

namespace moat::proxy {
namespace {

using std::chrono::milliseconds;

const std::array<std::string_view, 3> kServers = {"127.0.0.1:18831", "127.0.0.1:18832",
                                                  "127.0.0.1:18833"};

std::vector<std::string> Keys(int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back("sensor-" + std::to_string(i));
  return keys;
}

std::map<std::string, size_t> Assign(const std::vector<std::string>& keys, std::array<bool, 3> up) {
  std::map<std::string, size_t> assigned;
  for (const std::string& key : keys) {
    const std::optional<size_t> server = PickByKey(key, kServers, up);
    EXPECT_TRUE(server.has_value());
    if (server) assigned[key] = *server;
  }
  return assigned;
}

TEST(UpstreamSelectTest, RendezvousSpreadsKeysOverEveryServer) {
  const auto assigned = Assign(Keys(9000), {true, true, true});
  std::array<int, 3> per_server{};
  for (const auto& [key, server] : assigned) ++per_server[server];
  for (int count : per_server) {
    EXPECT_GT(count, 2700);  // a third is 3000
    EXPECT_LT(count, 3300);
  }
}

TEST(UpstreamSelectTest, RendezvousIsStableForTheSameKey) {
  const std::vector<std::string> keys = Keys(500);
  EXPECT_EQ(Assign(keys, {true, true, true}), Assign(keys, {true, true, true}));
  // A fixed hash: every moat replica and version agrees on where an id belongs.
  EXPECT_EQ(RendezvousWeight("a", "b"), RendezvousWeight("a", "b"));
  EXPECT_NE(RendezvousWeight("ab", "c"), RendezvousWeight("a", "bc"));
}

TEST(UpstreamSelectTest, OnlyTheFailedServersKeysMove) {
  const std::vector<std::string> keys = Keys(3000);
  const auto before = Assign(keys, {true, true, true});
  const auto after = Assign(keys, {true, false, true});
  std::array<int, 3> moved_to{};
  for (const std::string& key : keys) {
    if (before.at(key) == 1) {
      EXPECT_NE(after.at(key), 1u);
      ++moved_to[after.at(key)];
    } else {
      EXPECT_EQ(after.at(key), before.at(key)) << key;
    }
  }
  // The failed server's clients are shared among the others, not piled onto one.
  EXPECT_GT(moved_to[0], 300);
  EXPECT_GT(moved_to[2], 300);
  // Back up: every key returns to where it was.
  EXPECT_EQ(Assign(keys, {true, true, true}), before);
}

TEST(UpstreamSelectTest, NoServerUpIsNoChoice) {
  EXPECT_FALSE(PickByKey("x", kServers, std::array<bool, 3>{false, false, false}));
  EXPECT_FALSE(PickRoundRobin(7, std::array<bool, 3>{false, false, false}));
  EXPECT_FALSE(PickLeastConnections(7, std::array<int64_t, 3>{0, 0, 0},
                                    std::array<bool, 3>{false, false, false}));
}

TEST(UpstreamSelectTest, RoundRobinTakesTurnsAndSkipsServersDown) {
  const std::array<bool, 3> all{true, true, true};
  std::vector<size_t> picks;
  for (uint64_t turn = 0; turn < 6; ++turn) picks.push_back(*PickRoundRobin(turn, all));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
  const std::array<bool, 3> middle_down{true, false, true};
  picks.clear();
  for (uint64_t turn = 0; turn < 6; ++turn) picks.push_back(*PickRoundRobin(turn, middle_down));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 2, 2, 0, 2, 2}));
}

TEST(UpstreamSelectTest, LeastConnectionsTakesTheEmptiestServerUp) {
  const std::array<bool, 3> all{true, true, true};
  EXPECT_EQ(PickLeastConnections(0, std::array<int64_t, 3>{5, 2, 9}, all), 1u);
  // Down, however empty, is never chosen.
  EXPECT_EQ(PickLeastConnections(0, std::array<int64_t, 3>{5, 0, 9},
                                 std::array<bool, 3>{true, false, true}),
            0u);
  // Ties go round, so that equal servers fill evenly.
  const std::array<int64_t, 3> equal{4, 4, 4};
  EXPECT_EQ(PickLeastConnections(0, equal, all), 0u);
  EXPECT_EQ(PickLeastConnections(1, equal, all), 1u);
  EXPECT_EQ(PickLeastConnections(2, equal, all), 2u);
}

TEST(UpstreamSelectTest, ProbePauseDoublesUpToItsCap) {
  const milliseconds first(250);
  const milliseconds cap(2000);
  EXPECT_EQ(ProbeBackoff(1, first, cap), milliseconds(250));
  EXPECT_EQ(ProbeBackoff(2, first, cap), milliseconds(500));
  EXPECT_EQ(ProbeBackoff(3, first, cap), milliseconds(1000));
  EXPECT_EQ(ProbeBackoff(4, first, cap), milliseconds(2000));
  EXPECT_EQ(ProbeBackoff(5, first, cap), milliseconds(2000));
  EXPECT_EQ(ProbeBackoff(4'000'000'000u, first, cap), milliseconds(2000));  // no overflow
  EXPECT_EQ(ProbeBackoff(0, first, cap), milliseconds(250));
}

TEST(UpstreamHealthTest, AFailureTakesAServerDownAndLinksAreCounted) {
  config::Upstream upstream;
  for (std::string_view server : kServers) {
    config::UpstreamServer one;
    one.address = {.host = "127.0.0.1",
                   .port = static_cast<uint16_t>(std::stoi(std::string(server.substr(10))))};
    upstream.servers.push_back(one);
  }
  UpstreamHealth health(upstream, {}, std::chrono::seconds(0), "", nullptr);
  ASSERT_EQ(health.size(), 3u);
  EXPECT_EQ(health.Name(2), "127.0.0.1:18833");
  EXPECT_EQ(health.Settings(1).address.ToString(), "127.0.0.1:18832");
  EXPECT_TRUE(health.AnyUp());
  health.Failed(1, boost::asio::error::connection_refused);
  EXPECT_FALSE(health.IsUp(1));
  EXPECT_TRUE(health.IsUp(0));
  EXPECT_EQ(health.LastError(), boost::asio::error::connection_refused);
  health.Failed(0, boost::asio::error::timed_out);
  health.Failed(2, boost::asio::error::timed_out);
  EXPECT_FALSE(health.AnyUp());
  health.LinkOpened(0);
  health.LinkOpened(0);
  health.LinkClosed(0);
  EXPECT_EQ(health.Links(0), 1);
}

// The probe is an MQTT CONNECT: a server that takes TCP but never answers stays down,
// one that answers comes back.
TEST(UpstreamHealthTest, AProbeBringsBackOnlyAServerThatAnswersConnect) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  asio::io_context io;
  const tcp::endpoint loopback(asio::ip::make_address("127.0.0.1"), 0);
  tcp::acceptor answering(io, loopback);
  tcp::acceptor silent(io, loopback);  // the kernel completes handshakes; nobody reads
  config::Upstream upstream;
  upstream.connect_timeout = milliseconds(300);
  for (const tcp::acceptor* acceptor : {&answering, &silent}) {
    upstream.servers.push_back(
        {.address = {.host = "127.0.0.1", .port = acceptor->local_endpoint().port()},
         .tls = {},
         .line = 0});
  }
  UpstreamHealth health(
      upstream, {}, std::chrono::seconds(0), "", nullptr,
      {.first_pause = milliseconds(10), .max_pause = milliseconds(50), .tick = milliseconds(10)});
  health.Failed(0, asio::error::connection_refused);
  health.Failed(1, asio::error::timed_out);
  std::thread broker([&] {
    tcp::socket socket = answering.accept();
    uint8_t connect[2];  // the fixed header is enough to know a CONNECT came
    asio::read(socket, asio::buffer(connect));
    EXPECT_EQ(connect[0], 0x10);
    const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};
    asio::write(socket, asio::buffer(connack));
  });
  health.Start();
  for (int i = 0; i < 300 && !health.IsUp(0); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(health.IsUp(0));
  std::this_thread::sleep_for(milliseconds(700));  // probes of the silent one time out
  EXPECT_FALSE(health.IsUp(1));
  health.Stop();
  broker.join();
}

}  // namespace
}  // namespace moat::proxy
