#include "load_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace mqtt_load {

double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {  // field 3 is the state
    if (index == 14) utime = std::stoull(field);
    if (index == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long RssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double MachineCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  unsigned long long value = 0, busy = 0;
  for (int i = 0; i < 8 && in >> value; ++i) {
    if (i != 3 && i != 4) busy += value;  // idle, iowait
  }
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Sample TakeSample(const std::vector<Watch>& watches) {
  Sample s;
  s.when = std::chrono::steady_clock::now();
  s.self_cpu = SelfCpuSeconds();
  s.machine_cpu = MachineCpuSeconds();
  for (const auto& w : watches) {
    s.cpu.push_back(CpuSeconds(w.pid));
    s.rss_kb.push_back(RssKb(w.pid));
  }
  return s;
}

Json& Json::Add(const std::string& key, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.6g", value);
  return Raw(key, text);
}

Json& Json::Add(const std::string& key, const std::string& value) {
  return Raw(key, "\"" + value + "\"");
}

Json& Json::Raw(const std::string& key, const std::string& value) {
  text_ += (text_.empty() ? "{" : ", ") + ("\"" + key + "\": ") + value;
  return *this;
}

void AddWindow(Json& json, const std::vector<Watch>& watches, const Sample& start,
               const Sample& end) {
  const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
  json.Add("elapsed_s", elapsed).Add("generator_cpu_s", end.self_cpu - start.self_cpu);
  double others = (end.machine_cpu - start.machine_cpu) - (end.self_cpu - start.self_cpu);
  Json watched;
  for (size_t i = 0; i < watches.size(); ++i) {
    others -= end.cpu[i] - start.cpu[i];
    Json w;
    w.Add("pid", watches[i].pid)
        .Add("cpu_s", end.cpu[i] - start.cpu[i])
        .Add("rss_before_kb", static_cast<double>(start.rss_kb[i]))
        .Add("rss_after_kb", static_cast<double>(end.rss_kb[i]));
    watched.Raw(watches[i].name, w.Done());
  }
  json.Raw("watch", watched.Done());
  json.Add("others_cpu_s", std::max(0.0, others));
}

void AddLatencies(Json& json, std::vector<uint32_t>& latencies_ns) {
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto at = [&](double q) {
    if (latencies_ns.empty()) return -1.0;
    const size_t i = std::min(latencies_ns.size() - 1,
                              static_cast<size_t>(q * static_cast<double>(latencies_ns.size())));
    return latencies_ns[i] / 1000.0;
  };
  json.Add("samples", static_cast<double>(latencies_ns.size()))
      .Add("p50_us", at(0.50))
      .Add("p90_us", at(0.90))
      .Add("p99_us", at(0.99))
      .Add("p999_us", at(0.999))
      .Add("max_us", at(1.0));
}

}  // namespace mqtt_load
