// The keep-alive rule without a clock: 1.5 times the interval after the last packet
// [MQTT-3.1.2-24], none at all for 0 [MQTT-3.1.2-22], the broker's value once it names one.
#include "proxy/session/keep_alive.h"

#include <gtest/gtest.h>

namespace moat::proxy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kStart{std::chrono::hours(1)};

TEST(KeepAlive, ExpiresAtOneAndAHalfIntervalsAfterTheLastPacket) {
  KeepAlive keep_alive(seconds(10), kStart);
  EXPECT_FALSE(keep_alive.Expired(kStart + milliseconds(14'999)));
  EXPECT_TRUE(keep_alive.Expired(kStart + seconds(15)));
  EXPECT_EQ(keep_alive.Deadline(), kStart + seconds(15));
}

TEST(KeepAlive, EveryPacketPutsTheDeadlineOff) {
  KeepAlive keep_alive(seconds(10), kStart);
  keep_alive.Heard(kStart + seconds(14));
  EXPECT_FALSE(keep_alive.Expired(kStart + seconds(28)));
  EXPECT_TRUE(keep_alive.Expired(kStart + seconds(29)));
}

TEST(KeepAlive, OddIntervalsKeepTheirHalfSecond) {
  KeepAlive keep_alive(seconds(3), kStart);
  EXPECT_EQ(keep_alive.Deadline(), kStart + milliseconds(4'500));
}

TEST(KeepAlive, ZeroMeansNoDeadline) {
  KeepAlive keep_alive(seconds(0), kStart);
  EXPECT_EQ(keep_alive.Deadline(), std::nullopt);
  EXPECT_FALSE(keep_alive.Expired(kStart + std::chrono::hours(24 * 365)));
}

TEST(KeepAlive, TheBrokersServerKeepAliveReplacesTheClients) {
  KeepAlive keep_alive(seconds(0), kStart);
  keep_alive.set_interval(seconds(5));
  EXPECT_EQ(keep_alive.Deadline(), kStart + milliseconds(7'500));
  keep_alive.set_interval(seconds(60));
  EXPECT_FALSE(keep_alive.Expired(kStart + seconds(60)));
}

}  // namespace
}  // namespace moat::proxy
