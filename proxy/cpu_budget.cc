#include "proxy/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace moat::proxy {

namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadSmallFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// cgroup v2's cpu.max: "max 100000" (no limit) or "QUOTA PERIOD" in microseconds.
std::optional<double> V2Quota(const fs::path& dir) {
  const auto text = ReadSmallFile(dir / "cpu.max");
  if (!text) return std::nullopt;
  const std::vector<absl::string_view> words =
      absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  double quota = 0;
  double period = 0;
  if (words.size() != 2 || !absl::SimpleAtod(words[0], &quota) ||
      !absl::SimpleAtod(words[1], &period) || quota <= 0 || period <= 0) {
    return std::nullopt;
  }
  return quota / period;
}

// cgroup v1's cpu.cfs_quota_us (-1: no limit) over cpu.cfs_period_us.
std::optional<double> V1Quota(const fs::path& dir) {
  const auto quota_text = ReadSmallFile(dir / "cpu.cfs_quota_us");
  const auto period_text = ReadSmallFile(dir / "cpu.cfs_period_us");
  double quota = 0;
  double period = 0;
  if (!quota_text || !period_text ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(*quota_text), &quota) ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(*period_text), &period) || quota <= 0 ||
      period <= 0) {
    return std::nullopt;
  }
  return quota / period;
}

std::optional<double> Lower(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// The smallest quota in `dir` and every folder above it up to `root`: a parent's limit
// holds for its children too.
template <typename ReadQuota>
std::optional<double> UpTheTree(const fs::path& root, const fs::path& dir, ReadQuota read) {
  std::optional<double> lowest;
  for (fs::path at = dir;; at = at.parent_path()) {
    lowest = Lower(lowest, read(at));
    if (at == root || at == at.parent_path() || at.native().size() <= root.native().size()) {
      return lowest;
    }
  }
}

// Joins the cgroup path of /proc/self/cgroup to the mount; "/" names the mount itself.
fs::path Under(const fs::path& mount, std::string_view cgroup_path) {
  const absl::string_view relative =
      absl::StripPrefix(absl::string_view(cgroup_path.data(), cgroup_path.size()), "/");
  return relative.empty() ? mount : mount / std::string(relative);
}

int AffinityCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

std::string CpuBudget::Describe() const {
  return absl::StrCat(cpus, cpus == 1 ? " CPU" : " CPUs", " (affinity ", affinity,
                      quota ? absl::StrCat(", cgroup quota ", *quota) : ", no cgroup quota", ")");
}

std::optional<double> CgroupCpuQuota(const fs::path& cgroup_root,
                                     std::string_view proc_self_cgroup) {
  std::optional<double> lowest;
  const absl::string_view text(proc_self_cgroup.data(), proc_self_cgroup.size());
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // "ID:CONTROLLERS:PATH"; the path may itself hold ':'.
    const std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    const std::string_view path(parts[2].data(), parts[2].size());
    if (parts[0] == "0" && parts[1].empty()) {  // the v2 hierarchy
      const fs::path mount =
          fs::exists(cgroup_root / "cgroup.controllers") ? cgroup_root : cgroup_root / "unified";
      lowest = Lower(lowest, UpTheTree(mount, Under(mount, path), V2Quota));
      continue;
    }
    const std::vector<absl::string_view> controllers = absl::StrSplit(parts[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "cpu") == controllers.end()) continue;
    // Mounted under its joined name ("cpu,cpuacct"), usually with a "cpu" link beside it.
    for (const std::string& name : {std::string(parts[1]), std::string("cpu")}) {
      const fs::path mount = cgroup_root / name;
      if (!fs::exists(mount)) continue;
      // In a container the path names the host's cgroup, and the mount is its own.
      const fs::path dir = fs::exists(Under(mount, path)) ? Under(mount, path) : mount;
      lowest = Lower(lowest, UpTheTree(mount, dir, V1Quota));
      break;
    }
  }
  return lowest;
}

namespace {

CpuBudget ReadProcessCpuBudget() {
  CpuBudget budget;
  budget.affinity = AffinityCpus();
  if (const auto text = ReadSmallFile("/proc/self/cgroup")) {
    budget.quota = CgroupCpuQuota("/sys/fs/cgroup", *text);
  }
  budget.cpus = budget.affinity;
  if (budget.quota) {
    budget.cpus = std::min(budget.cpus, static_cast<int>(std::ceil(*budget.quota)));
  }
  budget.cpus = std::max(1, budget.cpus);
  return budget;
}

}  // namespace

const CpuBudget& ProcessCpuBudget() {
  static const CpuBudget budget = ReadProcessCpuBudget();
  return budget;
}

int DefaultThreads(int configured) { return configured > 0 ? configured : ProcessCpuBudget().cpus; }

}  // namespace moat::proxy
