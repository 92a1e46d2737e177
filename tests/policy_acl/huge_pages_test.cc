// Only whole, aligned 2 MiB pages are ever advised, and only for tables big enough to
// hold one: advising a partial page would make the kernel round it to its neighbours.
#include "policy/acl/huge_pages.h"

#include <gtest/gtest.h>

#include <vector>

namespace moat::policy {
namespace {

constexpr uintptr_t kMiB = 1024 * 1024;

TEST(HugePages, TablesUnderTwoHugePagesAreLeftAlone) {
  EXPECT_EQ(WholeHugePages(0, 4 * kMiB - 1), std::nullopt);
  EXPECT_EQ(WholeHugePages(8 * kMiB, 1), std::nullopt);
}

TEST(HugePages, AnAlignedTableIsAdvisedWhole) {
  EXPECT_EQ(WholeHugePages(8 * kMiB, 4 * kMiB), (AddressRange{8 * kMiB, 12 * kMiB}));
}

TEST(HugePages, AnUnalignedTableIsAdvisedOnlyForThePagesInsideIt) {
  // From 1 MiB past a boundary for 5 MiB: only [2 MiB, 6 MiB) lies wholly inside.
  EXPECT_EQ(WholeHugePages(1 * kMiB, 5 * kMiB), (AddressRange{2 * kMiB, 6 * kMiB}));
  EXPECT_EQ(WholeHugePages(1 * kMiB + 1, 4 * kMiB), (AddressRange{2 * kMiB, 4 * kMiB}));
}

TEST(HugePages, AdvisingRealMemoryLeavesItUsable) {
  std::vector<uint8_t> table(6 * kMiB);
  AdviseHugePages(table.data(), table.size());
  table.back() = 7;
  EXPECT_EQ(table.back(), 7);
}

}  // namespace
}  // namespace moat::policy
