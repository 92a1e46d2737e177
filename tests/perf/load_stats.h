// What mqtt_load measures besides its own counts: CPU and memory of watched processes
// (/proc), of itself (getrusage) and of the whole machine, and the one JSON line each
// mode prints at the end.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mqtt_load {

struct Watch {
  std::string name;
  int pid = 0;
};

double CpuSeconds(int pid);  // utime + stime of every thread of the process
long RssKb(int pid);
double SelfCpuSeconds();
// CPU time of the whole machine (every core, all but idle and iowait): what neither the
// watched processes nor the generator used was taken by someone else during the run.
double MachineCpuSeconds();

// A snapshot of the watched processes and of the generator itself.
struct Sample {
  std::chrono::steady_clock::time_point when;
  double machine_cpu = 0;
  double self_cpu = 0;
  std::vector<double> cpu;
  std::vector<long> rss_kb;
};

Sample TakeSample(const std::vector<Watch>& watches);

class Json {
 public:
  Json& Add(const std::string& key, double value);
  Json& Add(const std::string& key, const std::string& value);
  Json& Raw(const std::string& key, const std::string& value);
  std::string Done() const { return text_.empty() ? "{}" : text_ + "}"; }

 private:
  std::string text_;
};

// elapsed_s, generator_cpu_s, each watched process's cpu_s and RSS before and after, and
// others_cpu_s (what the rest of the machine used) between two samples.
void AddWindow(Json& json, const std::vector<Watch>& watches, const Sample& start,
               const Sample& end);

// p50, p90, p99, p99.9 and max of latencies in ns, as p50_us ... max_us (sorts them).
void AddLatencies(Json& json, std::vector<uint32_t>& latencies_ns);

}  // namespace mqtt_load
