// The gate at accept: a process-wide cap, and per source a cap on open connections and a
// rate of new ones, with every place given back when its connection closes.
#include "proxy/connection_gate.h"

#include <gtest/gtest.h>

#include <vector>

namespace moat::proxy {
namespace {

using metrics::ConnectionRefusal;
using std::chrono::milliseconds;

const ConnectionGate::Clock::time_point kNow{std::chrono::hours(1)};

config::Limits Limits(uint32_t total, uint32_t per_address, double rate, uint32_t burst) {
  config::Limits limits;
  limits.max_connections = total;
  limits.max_connections_per_address = per_address;
  limits.connection_rate_per_address = rate;
  limits.connection_burst_per_address = burst;
  return limits;
}

TEST(ConnectionGate, TheProcessWideCapHoldsAcrossSources) {
  ConnectionGate gate(Limits(2, 10, 100, 100));
  ConnectionGate::Ticket a, b, c;
  EXPECT_EQ(gate.Open(a), std::nullopt);
  EXPECT_EQ(gate.Open(b), std::nullopt);
  EXPECT_EQ(gate.Open(c), ConnectionRefusal::kMaxConnections);
  EXPECT_FALSE(c);
  a = ConnectionGate::Ticket();  // one closes
  EXPECT_EQ(gate.Open(c), std::nullopt);
  EXPECT_EQ(gate.open(), 2u);
}

TEST(ConnectionGate, OneSourceCannotHoldMoreThanItsShare) {
  ConnectionGate gate(Limits(100, 2, 100, 100));
  std::vector<ConnectionGate::Ticket> tickets(4);
  for (auto& ticket : tickets) ASSERT_EQ(gate.Open(ticket), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(tickets[0], "192.0.2.7", kNow), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(tickets[1], "192.0.2.7", kNow), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(tickets[2], "192.0.2.7", kNow),
            ConnectionRefusal::kAddressConnections);
  EXPECT_EQ(gate.AdmitSource(tickets[3], "192.0.2.8", kNow), std::nullopt);  // another source
  tickets[0] = ConnectionGate::Ticket();
  EXPECT_EQ(gate.AdmitSource(tickets[2], "192.0.2.7", kNow), std::nullopt);
}

TEST(ConnectionGate, NewConnectionsFromOneSourceAreRateLimited) {
  ConnectionGate gate(Limits(1000, 1000, /*rate=*/10, /*burst=*/3));
  std::vector<ConnectionGate::Ticket> tickets(5);
  for (auto& ticket : tickets) ASSERT_EQ(gate.Open(ticket), std::nullopt);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(gate.AdmitSource(tickets[i], "198.51.100.1", kNow), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(tickets[3], "198.51.100.1", kNow), ConnectionRefusal::kAddressRate);
  // A tenth of a second later one more token has come.
  EXPECT_EQ(gate.AdmitSource(tickets[3], "198.51.100.1", kNow + milliseconds(100)), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(tickets[4], "198.51.100.1", kNow + milliseconds(100)),
            ConnectionRefusal::kAddressRate);
}

TEST(ConnectionGate, AnIPv6HostCountsAsItsSlash64) {
  ConnectionGate gate(Limits(100, 1, 100, 100));
  ConnectionGate::Ticket a, b;
  ASSERT_EQ(gate.Open(a), std::nullopt);
  ASSERT_EQ(gate.Open(b), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(a, "2001:db8:0:1::1", kNow), std::nullopt);
  EXPECT_EQ(gate.AdmitSource(b, "2001:db8:0:1::2", kNow), ConnectionRefusal::kAddressConnections);
}

TEST(ConnectionGate, SourcesWithNothingOpenAreForgottenOnceRefilled) {
  ConnectionGate gate(Limits(100'000, 10, 1000, 10));
  for (int i = 0; i < 3000; ++i) {
    ConnectionGate::Ticket ticket;
    ASSERT_EQ(gate.Open(ticket), std::nullopt);
    ASSERT_EQ(
        gate.AdmitSource(ticket, "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                         kNow + milliseconds(i * 20)),
        std::nullopt);
  }
  EXPECT_LT(gate.sources(), 2100u);
  EXPECT_EQ(gate.open(), 0u);
}

}  // namespace
}  // namespace moat::proxy
