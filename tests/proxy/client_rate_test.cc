// The client's token buckets: a burst at once, then the rate; a packet may overdraw the
// byte bucket and the client waits out the debt; the policy's rate replaces the
// config's; a reload keeps what a bucket held.
#include "proxy/session/client_rate.h"

#include <gtest/gtest.h>

namespace moat::proxy {
namespace {

using std::chrono::milliseconds;

constexpr SteadyTime kStart{std::chrono::seconds(1000)};

ClientRates Rates(policy::Rate messages, policy::Rate bytes = {}) {
  return {{messages, {}, 0}, {bytes, {}, 0}};
}

TEST(ClientRateTest, UnlimitedByDefault) {
  ClientRate rate;
  EXPECT_FALSE(rate.limited());
  ClientRate configured(Rates({}, {}), kStart);
  EXPECT_FALSE(configured.limited());
}

TEST(ClientRateTest, ABurstPassesAtOnceThenOneMessageEachIntervalOfTheRate) {
  ClientRate rate(Rates({.per_second = 10, .burst = 3}), kStart);
  ASSERT_TRUE(rate.limited());
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(rate.Held(kStart)) << i;
    rate.Spend(/*publish=*/true, 100);
  }
  const auto hold = rate.Held(kStart);
  ASSERT_TRUE(hold);
  EXPECT_EQ(hold->reason, policy::DenyReason::kMessageRate);
  // Empty at exactly 0: the next message may go once a tenth of a second has refilled it.
  EXPECT_GT(hold->until, kStart + milliseconds(99));
  EXPECT_LT(hold->until, kStart + milliseconds(101));
  EXPECT_FALSE(rate.Held(hold->until));
}

TEST(ClientRateTest, OverAnyLongStretchTheRateHoldsExactly) {
  ClientRate rate(Rates({.per_second = 50, .burst = 5}), kStart);
  SteadyTime now = kStart;
  int sent = 0;
  // A client that sends whenever it may, for 10 s.
  while (now < kStart + std::chrono::seconds(10)) {
    if (const auto hold = rate.Held(now)) {
      now = hold->until;
      continue;
    }
    rate.Spend(true, 10);
    ++sent;
  }
  EXPECT_GE(sent, 5 + 500 - 1);
  EXPECT_LE(sent, 5 + 500 + 1);
}

TEST(ClientRateTest, OnlyPublishesCostMessages) {
  ClientRate rate(Rates({.per_second = 1, .burst = 1}), kStart);
  for (int i = 0; i < 100; ++i) rate.Spend(/*publish=*/false, 2);  // PINGREQs, PUBACKs
  EXPECT_FALSE(rate.Held(kStart));
}

TEST(ClientRateTest, APacketLargerThanTheByteBurstPassesAndIsPaidForAfter) {
  ClientRate rate(Rates({}, {.per_second = 1000, .burst = 100}), kStart);
  ASSERT_FALSE(rate.Held(kStart));
  rate.Spend(true, 5100);  // 5,000 bytes of debt, and one more to make a whole token
  const auto hold = rate.Held(kStart);
  ASSERT_TRUE(hold);
  EXPECT_EQ(hold->reason, policy::DenyReason::kByteRate);
  EXPECT_GE(hold->until, kStart + std::chrono::milliseconds(5001));
  EXPECT_LT(hold->until, kStart + std::chrono::milliseconds(5002));
  EXPECT_TRUE(rate.Held(kStart + std::chrono::seconds(4)));
  EXPECT_FALSE(rate.Held(hold->until));
}

TEST(ClientRateTest, ABucketRefillsOnlyUpToItsBurst) {
  ClientRate rate(Rates({.per_second = 10, .burst = 2}), kStart);
  const SteadyTime later = kStart + std::chrono::hours(1);
  int passed = 0;
  while (!rate.Held(later)) {
    rate.Spend(true, 1);
    ++passed;
  }
  EXPECT_EQ(passed, 2);
}

TEST(ClientRateTest, AReloadKeepsWhatTheBucketHeldUpToItsNewBurst) {
  ClientRate rate(Rates({.per_second = 10, .burst = 10}), kStart);
  for (int i = 0; i < 10; ++i) rate.Spend(true, 1);
  rate.Update(Rates({.per_second = 100, .burst = 100}), kStart);
  EXPECT_TRUE(rate.Held(kStart)) << "an empty bucket stays empty across a reload";
  rate.Update(Rates({}), kStart);
  EXPECT_FALSE(rate.limited());
  EXPECT_FALSE(rate.Held(kStart));
}

TEST(ResolveRatesTest, ThePolicysRateReplacesTheConfigsOneKeyAtATime) {
  config::ClientRateLimits configured;
  configured.messages = {.per_second = 100, .burst = 100};
  configured.bytes = {.per_second = 1000, .burst = 1000};
  policy::RateOverrides overrides;
  overrides.messages = policy::SourcedRate{{.per_second = 500, .burst = 50}, "fast-gateway", 7};
  const ClientRates rates = ResolveRates(configured, overrides);
  EXPECT_EQ(rates.messages.rate.per_second, 500);  // a policy entry may raise a rate
  EXPECT_EQ(rates.messages.rule, "fast-gateway");
  EXPECT_EQ(rates.messages.rule_label, 7);
  EXPECT_EQ(rates.bytes.rate.per_second, 1000);
  EXPECT_EQ(rates.bytes.rule, "");
}

}  // namespace
}  // namespace moat::proxy
