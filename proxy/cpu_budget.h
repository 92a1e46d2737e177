// How many CPUs moat may really use, for `threads: 0` and `auth.hash_threads: 0`: the CPUs
// of its affinity mask (taskset, systemd's CPUAffinity, a cpuset), capped by its cgroup's
// CPU quota rounded up (a pod's CPU limit, systemd's CPUQuota), at least one. The machine's
// core count is wrong in both cases: on one pinned core, a worker per core of the machine
// costs 0.6-0.8x HAProxy's throughput where one worker gives parity.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace moat::proxy {

struct CpuBudget {
  int cpus = 1;                 // what the defaults use
  int affinity = 1;             // CPUs in the affinity mask
  std::optional<double> quota;  // CPUs' worth of time the cgroup allows; nullopt: no limit

  // "2 CPUs (affinity 8, cgroup quota 1.5)", for the start-up log.
  std::string Describe() const;
};

// Of this process, read from sched_getaffinity, /proc/self/cgroup and /sys/fs/cgroup once,
// at the first call: the workers, the hash pool and the start-up log all ask.
const CpuBudget& ProcessCpuBudget();

// The smallest CPU quota on the way from the cgroup `proc_self_cgroup` names (the text of
// /proc/self/cgroup) up to the root of the hierarchy mounted at `cgroup_root`: cgroup v2's
// cpu.max, or v1's cpu.cfs_quota_us / cpu.cfs_period_us. nullopt when nothing limits it or
// nothing can be read (unknown is not a limit).
std::optional<double> CgroupCpuQuota(const std::filesystem::path& cgroup_root,
                                     std::string_view proc_self_cgroup);

// `configured` if set (> 0), else the process's budget.
int DefaultThreads(int configured);

}  // namespace moat::proxy
