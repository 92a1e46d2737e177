// The heap is trimmed as a burst of closed connections halves the count (while each step
// frees at least kBurst), never for ordinary churn.
#include "proxy/memory_trim.h"

#include <gtest/gtest.h>

namespace moat::proxy {
namespace {

int trims = 0;
void CountTrim() { ++trims; }

class BurstTrimmerTest : public ::testing::Test {
 protected:
  void SetUp() override { trims = 0; }
  // Opens connections up to `to`, then closes them down to `down_to`.
  void Cycle(uint64_t to, uint64_t down_to) {
    for (uint64_t open = from_ + 1; open <= to; ++open) trimmer_.Opened(open);
    for (uint64_t open = to; open-- > down_to;) trimmer_.Closed(open);
    from_ = down_to;
  }
  BurstTrimmer trimmer_{&CountTrim};
  uint64_t from_ = 0;
};

TEST_F(BurstTrimmerTest, ABurstThatClosesTrimsAtEachHalvingWorthABurst) {
  Cycle(9000, 4500);
  EXPECT_EQ(trims, 1);
  Cycle(4500, 2250);
  EXPECT_EQ(trims, 2);
  Cycle(2250, 251);  // 2,250 to 251 is under a burst
  EXPECT_EQ(trims, 2);
  trimmer_.Closed(250);
  EXPECT_EQ(trims, 3);
  Cycle(250, 0);
  EXPECT_EQ(trims, 3);
}

TEST_F(BurstTrimmerTest, ItWaitsForHalfThePeakToBeGone) {
  Cycle(9000, 4501);
  EXPECT_EQ(trims, 0);
  trimmer_.Closed(4500);
  EXPECT_EQ(trims, 1);
}

TEST_F(BurstTrimmerTest, ChurnSmallerThanABurstNeverTrims) {
  for (int round = 0; round < 50; ++round) Cycle(BurstTrimmer::kBurst - 1, 0);
  EXPECT_EQ(trims, 0);
}

TEST_F(BurstTrimmerTest, EachNewBurstTrimsAgain) {
  Cycle(3000, 100);
  Cycle(3000, 100);
  EXPECT_EQ(trims, 2);
}

}  // namespace
}  // namespace moat::proxy
