// The CPU quota moat reads from its cgroup, over hierarchies written into a test folder:
// cgroup v2's cpu.max and v1's cfs files, a parent's limit holding for its children, a
// container's own mount, and nothing read as no limit.
#include "proxy/cpu_budget.h"

#include <gtest/gtest.h>

#include "tests/file_reading/temp_dir.h"

namespace moat::proxy {
namespace {

using moat::test::TempDir;

TEST(CgroupCpuQuota, V2QuotaOverPeriod) {
  TempDir root;
  root.Write("cgroup.controllers", "cpu memory\n");
  root.Write("kubepods/pod1/moat/cpu.max", "150000 100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "0::/kubepods/pod1/moat\n"), 1.5);
}

TEST(CgroupCpuQuota, V2MaxIsNoLimitAndAParentsLimitHolds) {
  TempDir root;
  root.Write("cgroup.controllers", "cpu\n");
  root.Write("system.slice/cpu.max", "200000 100000\n");
  root.Write("system.slice/moat.service/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "0::/system.slice/moat.service\n"), 2.0);
  root.Write("system.slice/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "0::/system.slice/moat.service\n"), std::nullopt);
}

TEST(CgroupCpuQuota, V2InAHybridHierarchyLivesUnderUnified) {
  TempDir root;
  root.Write("unified/cgroup.controllers", "\n");
  root.Write("unified/moat/cpu.max", "50000 100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "1:cpu,cpuacct:/\n0::/moat\n"), 0.5);
}

TEST(CgroupCpuQuota, V1CfsQuotaOverPeriodUnderTheJoinedMountName) {
  TempDir root;
  root.Write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  root.Write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n"), 3.0);
}

TEST(CgroupCpuQuota, V1MinusOneIsNoLimit) {
  TempDir root;
  root.Write("cpu/cpu.cfs_quota_us", "-1\n");
  root.Write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "2:cpu:/\n"), std::nullopt);
}

TEST(CgroupCpuQuota, AContainerReadsItsOwnMountWhenTheHostPathIsNotThere) {
  TempDir root;
  root.Write("cpu/cpu.cfs_quota_us", "100000\n");
  root.Write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "2:cpu:/kubepods/burstable/pod9/c1\n"), 1.0);
}

TEST(CgroupCpuQuota, NothingReadableIsNoLimit) {
  TempDir root;
  EXPECT_EQ(CgroupCpuQuota(root.path(), "0::/\n"), std::nullopt);
  EXPECT_EQ(CgroupCpuQuota(root.path(), "garbage"), std::nullopt);
  root.Write("cgroup.controllers", "cpu\n");
  root.Write("cpu.max", "lots 100000\n");
  EXPECT_EQ(CgroupCpuQuota(root.path(), "0::/\n"), std::nullopt);
}

TEST(DefaultThreads, AConfiguredNumberWins) {
  EXPECT_EQ(DefaultThreads(7), 7);
  const CpuBudget budget = ProcessCpuBudget();
  EXPECT_EQ(DefaultThreads(0), budget.cpus);
  EXPECT_GE(budget.cpus, 1);
  EXPECT_LE(budget.cpus, budget.affinity);
}

}  // namespace
}  // namespace moat::proxy
