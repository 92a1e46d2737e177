// What one `payload: sparkplug_b` check costs the data path: IsSparkplugPayload() on the
// ~1 KiB NDATA-like payload mqtt_load --sparkplug sends, on a small one, and on payloads
// it refuses (JSON fails at once; a cut-short protobuf is read up to the cut).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "load_sparkplug.h"
#include "policy/payload/payload_format.h"

namespace {

std::string Bytes(size_t size) {
  const std::vector<uint8_t> payload = mqtt_load::SparkplugPayload(size);
  return {payload.begin(), payload.end()};
}

void Check(benchmark::State& state, const std::string& payload, bool valid) {
  for (auto _ : state) {
    const bool matched = moat::policy::IsSparkplugPayload(payload);
    if (matched != valid) state.SkipWithError("unexpected verdict");
    benchmark::DoNotOptimize(matched);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
}

void BM_Sparkplug1KiB(benchmark::State& state) { Check(state, Bytes(1024), true); }
void BM_Sparkplug64B(benchmark::State& state) { Check(state, Bytes(64), true); }
void BM_Sparkplug16KiB(benchmark::State& state) { Check(state, Bytes(16 * 1024), true); }
void BM_RefusedJson(benchmark::State& state) {
  Check(state, R"({"temperature": 21.5, "timestamp": 1700000000000})", false);
}
void BM_RefusedCutShort1KiB(benchmark::State& state) {
  Check(state, Bytes(1024).substr(0, 1000), false);
}

BENCHMARK(BM_Sparkplug1KiB);
BENCHMARK(BM_Sparkplug64B);
BENCHMARK(BM_Sparkplug16KiB);
BENCHMARK(BM_RefusedJson);
BENCHMARK(BM_RefusedCutShort1KiB);

}  // namespace

BENCHMARK_MAIN();
