// Counting without locks. Every series of every metric in kMetricTable gets a slot in a
// flat array whose layout is fixed at startup (closed enums times the configured
// listeners and files, and a fixed number of rule labels whose names a reload may add).
// Each worker thread owns a ThreadCounters copy of that array and bumps it with a
// relaxed load and store: no lock, no atomic read-modify-write, no map and no
// allocation per packet. A scrape sums the threads' arrays and the registry's
// own (for the control plane, which may write from any thread) into prometheus-cpp
// MetricFamily values.
//
//   worker 1: ThreadCounters ─┐
//   worker N: ThreadCounters ─┼─> MetricsRegistry::Collect() ─> exposition.h ─> HTTP
//   reload/control: registry ─┘        (+ /proc/self for process_*)
//
// Usage:
//   counters.Add<Metric::kPacketsTotal>(mqtt::Direction::kClientToServer, packet.type);
//   counters.Add<Metric::kDenialsTotal>(action, reason, mode, RuleLabel{decision.rule_label});
//   counters.Add<Metric::kBytesTotal>(direction, bytes.size());
//   counters.GaugeAdd<Metric::kConnectionsActive>(listener_id, +1);
//   counters.Observe<Metric::kUpstreamConnectSeconds>(seconds);
//   registry.Set<Metric::kPolicyVersion>(version);
// A wrong type, label count or label type for the metric does not compile.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/metric_table.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace moat::metrics {

// The label values that are not closed enums.
struct RegistryOptions {
  std::vector<std::string> listeners{};  // in config order: ListenerId{i} is listeners[i]
  // Room for listeners a reload adds (AddListener), past `listeners`: the layout is fixed
  // at startup, so a process can name only this many more over its life.
  size_t spare_listeners = 0;
  std::vector<std::string> certificate_files{};  // CertificateFileId{i} is this [i]
  std::vector<std::string> crl_files{};          // CrlFileId{i} is this [i]
  std::vector<std::string> upstream_servers{};   // UpstreamServerId{i} is this [i]
  size_t spare_upstream_servers = 0;             // as spare_listeners, for AddUpstreamServer
  std::string version{};                         // moat_build_info{version}; empty: "unknown"
  std::string openssl_version{};  // moat_build_info{openssl}; empty: the linked libcrypto's
  // The names of RuleLabel{0..kRuleLabelCount-1} as they stand ("" for numbers not given
  // out), asked at every scrape, from the scrape thread, because a reload names new
  // rules. Unset: only RuleLabel{0}, "default". A series whose name is missing, empty or
  // not printable UTF-8 is left out.
  std::function<std::vector<std::string>()> rule_labels{};
};

namespace internal {

inline constexpr uint32_t kNoSlot = UINT32_MAX;

struct MetricLayout {
  uint32_t offset = 0;        // first slot of the first series
  uint32_t series_slots = 1;  // slots per series; histograms: one per bucket, +Inf, sum
  uint32_t series_count = 0;
  std::array<uint32_t, kMaxLabels> cardinality{};
  std::array<uint32_t, kMaxLabels> stride{};  // in series, row-major over the labels
};

struct Layout {
  std::array<MetricLayout, kMetricCount> metrics;
  uint32_t slot_count = 0;
};

// The slot of a series, or kNoSlot for a label index out of range.
template <Metric M, typename... L>
inline uint32_t SlotOf(const Layout& layout, L... labels) {
  static_assert(Def(M).source == Source::kCounted, "process_* metrics are read at scrape");
  static_assert(LabelsMatch<M, L...>(), "wrong label count or label type for this metric");
  const MetricLayout& metric = layout.metrics[static_cast<size_t>(M)];
  const std::array<uint32_t, sizeof...(L)> index{LabelTraits<L>::Index(labels)...};
  uint32_t series = 0;
  for (size_t i = 0; i < index.size(); ++i) {
    if (index[i] >= metric.cardinality[i]) return kNoSlot;
    series += index[i] * metric.stride[i];
  }
  return metric.offset + series * metric.series_slots;
}

// The bucket slot a histogram observation falls into, relative to its series' first slot;
// buckets.size() is +Inf. The sum follows at buckets.size() + 1.
inline uint32_t BucketOf(std::span<const double> buckets, double value) {
  uint32_t i = 0;
  while (i < buckets.size() && value > buckets[i]) ++i;
  return i;
}

// A flat slot array padded by a cache line on each side, so that two threads' arrays
// never share a line.
class Slots {
 public:
  explicit Slots(uint32_t count) : storage_(count + 2 * kPad) {}
  std::atomic<uint64_t>& operator[](uint32_t slot) { return storage_[slot + kPad]; }
  const std::atomic<uint64_t>& operator[](uint32_t slot) const { return storage_[slot + kPad]; }

 private:
  static constexpr uint32_t kPad = 64 / sizeof(uint64_t);
  std::vector<std::atomic<uint64_t>> storage_;
};

}  // namespace internal

#ifdef MOAT_COUNTERS_OFF
inline constexpr bool kCountersCompiledIn = false;  // see MOAT_COUNTERS in CMakeLists.txt
#else
inline constexpr bool kCountersCompiledIn = true;
#endif

// One worker thread's counters. Only the owning thread writes (relaxed load + store,
// which compiles to plain moves); the scrape thread reads with relaxed loads.
class ThreadCounters {
 public:
  ThreadCounters(const ThreadCounters&) = delete;
  ThreadCounters& operator=(const ThreadCounters&) = delete;

  // Counters.
  template <Metric M>
  void Add(uint64_t n = 1) {
    Count<M>(n);
  }
  template <Metric M, LabelType A>
  void Add(A a, uint64_t n = 1) {
    Count<M>(n, a);
  }
  template <Metric M, LabelType A, LabelType B>
  void Add(A a, B b, uint64_t n = 1) {
    Count<M>(n, a, b);
  }
  template <Metric M, LabelType A, LabelType B, LabelType C>
  void Add(A a, B b, C c, uint64_t n = 1) {
    Count<M>(n, a, b, c);
  }
  template <Metric M, LabelType A, LabelType B, LabelType C, LabelType D>
  void Add(A a, B b, C c, D d, uint64_t n = 1) {
    Count<M>(n, a, b, c, d);
  }

  // Gauges this thread moves up and down (connections_active); the scrape reports the
  // sum over threads, so a connection must be counted down on the thread that counted
  // it up.
  template <Metric M>
  void GaugeAdd(int64_t delta) {
    Shift<M>(delta);
  }
  template <Metric M, LabelType A>
  void GaugeAdd(A a, int64_t delta) {
    Shift<M>(delta, a);
  }
  template <Metric M, LabelType A, LabelType B>
  void GaugeAdd(A a, B b, int64_t delta) {
    Shift<M>(delta, a, b);
  }

  // Histograms.
  template <Metric M>
  void Observe(double value) {
    Record<M>(value);
  }
  template <Metric M, LabelType A>
  void Observe(A a, double value) {
    Record<M>(value, a);
  }
  template <Metric M, LabelType A, LabelType B>
  void Observe(A a, B b, double value) {
    Record<M>(value, a, b);
  }

 private:
  friend class MetricsRegistry;
  explicit ThreadCounters(const internal::Layout& layout)
      : layout_(layout), slots_(layout.slot_count) {}

  void Bump(uint32_t slot, uint64_t n) {
    std::atomic<uint64_t>& cell = slots_[slot];
    cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  template <Metric M, typename... L>
  void Count(uint64_t n, L... labels) {
    static_assert(Def(M).type == MetricType::kCounter, "Add() is for counters");
    if constexpr (!kCountersCompiledIn) return;
    const uint32_t slot = internal::SlotOf<M>(layout_, labels...);
    if (slot != internal::kNoSlot) Bump(slot, n);
  }

  template <Metric M, typename... L>
  void Shift(int64_t delta, L... labels) {
    static_assert(Def(M).type == MetricType::kGauge, "GaugeAdd() is for gauges");
    const uint32_t slot = internal::SlotOf<M>(layout_, labels...);
    if (slot != internal::kNoSlot) Bump(slot, static_cast<uint64_t>(delta));  // wraps
  }

  template <Metric M, typename... L>
  void Record(double value, L... labels) {
    static_assert(Def(M).type == MetricType::kHistogram, "Observe() is for histograms");
    if constexpr (!kCountersCompiledIn) return;
    const uint32_t slot = internal::SlotOf<M>(layout_, labels...);
    if (slot == internal::kNoSlot || std::isnan(value)) return;
    constexpr std::span<const double> buckets = Def(M).buckets;
    Bump(slot + internal::BucketOf(buckets, value), 1);
    std::atomic<uint64_t>& sum = slots_[slot + static_cast<uint32_t>(buckets.size()) + 1];
    sum.store(
        std::bit_cast<uint64_t>(std::bit_cast<double>(sum.load(std::memory_order_relaxed)) + value),
        std::memory_order_relaxed);
  }

  const internal::Layout& layout_;
  internal::Slots slots_;
};

class MetricsRegistry final : public prometheus::Collectable {
 public:
  // Fails on an empty, duplicate or non-UTF-8 listener name, certificate or CRL path.
  static absl::StatusOr<std::unique_ptr<MetricsRegistry>> Create(RegistryOptions options);

  // A new block of counters for one thread; the reference stays valid for the registry's
  // lifetime. Thread-safe; call at startup, once per worker thread.
  ThreadCounters& AddThread();

  std::optional<ListenerId> FindListener(std::string_view name) const;
  // The id of the listener `name`, given a spare one if it has none yet (its series then
  // appear in the scrape); nullopt when no spare is left or the name is not a valid label.
  // Thread-safe. A listener a reload removes keeps its id and its counts.
  std::optional<ListenerId> AddListener(const std::string& name);
  // The same for an upstream server ("host:port") a reload names.
  std::optional<UpstreamServerId> AddUpstreamServer(const std::string& name);
  std::optional<CertificateFileId> FindCertificateFile(std::string_view path) const;
  std::optional<CrlFileId> FindCrlFile(std::string_view path) const;

  // The control plane (reload, bans, certificate checks): from any thread, with atomic
  // read-modify-writes. Not for per-packet use; workers use their ThreadCounters.
  template <Metric M, LabelType... L>
  void Add(L... labels) {
    AddN<M>(1, labels...);
  }
  template <Metric M, LabelType... L>
  void AddN(uint64_t n, L... labels) {
    static_assert(Def(M).type == MetricType::kCounter, "Add() is for counters");
    const uint32_t slot = internal::SlotOf<M>(layout_, labels...);
    if (slot != internal::kNoSlot) global_[slot].fetch_add(n, std::memory_order_relaxed);
  }
  // moat_policy_info's sha256 label: the hash of the files just loaded (hex). Before the
  // first call the metric is not exported.
  void SetPolicyHash(std::string sha256);

  // Gauges owned by the control plane (policy version, timestamps, bans, expiry). Do not
  // also move the same gauge with ThreadCounters::GaugeAdd: the scrape adds both.
  template <Metric M>
  void Set(int64_t value) {
    SetGauge<M>(value);
  }
  template <Metric M, LabelType A>
  void Set(A a, int64_t value) {
    SetGauge<M>(value, a);
  }
  template <Metric M, LabelType A, LabelType B>
  void Set(A a, B b, int64_t value) {
    SetGauge<M>(value, a, b);
  }
  // A gauge moved up and down from several threads at once (upstream server links).
  template <Metric M, LabelType A>
  void GaugeAdd(A a, int64_t delta) {
    static_assert(Def(M).type == MetricType::kGauge, "GaugeAdd() is for gauges");
    const uint32_t slot = internal::SlotOf<M>(layout_, a);
    if (slot != internal::kNoSlot) {
      global_[slot].fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);  // wraps
    }
  }
  template <Metric M>
  void Observe(double value) {
    Record<M>(value);
  }
  template <Metric M, LabelType A>
  void Observe(A a, double value) {
    Record<M>(value, a);
  }

  // prometheus::Collectable: every metric of kMetricTable in table order, every series
  // of the closed label sets included at zero.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // The label values of a domain, in index order (listener names: as they stand now;
  // spare listeners are empty).
  std::vector<std::string> Values(Domain domain) const {
    std::lock_guard lock(listeners_mutex_);
    return values_[static_cast<size_t>(domain)];
  }

 private:
  explicit MetricsRegistry(RegistryOptions options);
  std::optional<uint32_t> IndexOf(Domain domain, std::string_view value) const;
  static std::array<std::vector<std::string>, kDomainCount> MakeValues(
      const RegistryOptions& options);
  static internal::Layout MakeLayout(
      const std::array<std::vector<std::string>, kDomainCount>& values);

  template <Metric M, typename... L>
  void SetGauge(int64_t value, L... labels) {
    static_assert(Def(M).type == MetricType::kGauge, "Set() is for gauges");
    const uint32_t slot = internal::SlotOf<M>(layout_, labels...);
    if (slot != internal::kNoSlot) {
      global_[slot].store(static_cast<uint64_t>(value), std::memory_order_relaxed);
    }
  }

  template <Metric M, typename... L>
  void Record(double value, L... labels) {
    static_assert(Def(M).type == MetricType::kHistogram, "Observe() is for histograms");
    const uint32_t slot = internal::SlotOf<M>(layout_, labels...);
    if (slot == internal::kNoSlot || std::isnan(value)) return;
    constexpr std::span<const double> buckets = Def(M).buckets;
    global_[slot + internal::BucketOf(buckets, value)].fetch_add(1, std::memory_order_relaxed);
    std::atomic<uint64_t>& sum = global_[slot + static_cast<uint32_t>(buckets.size()) + 1];
    uint64_t old_bits = sum.load(std::memory_order_relaxed);
    while (!sum.compare_exchange_weak(
        old_bits, std::bit_cast<uint64_t>(std::bit_cast<double>(old_bits) + value),
        std::memory_order_relaxed)) {
    }
  }

  // Sums of every slot over the registry's own slots and every thread's.
  std::vector<uint64_t> SumSlots() const;

  // The label value names of a scrape: values_, with the rule names and the policy hash
  // as they stand now (kept in the caller's vectors).
  std::array<const std::vector<std::string>*, kDomainCount> ScrapeValues(
      std::vector<std::string>& rule_names, std::vector<std::string>& policy_hash,
      std::vector<std::string>& listener_names,
      std::vector<std::string>& upstream_server_names) const;
  // A name's index in `domain`, given a spare (empty) one if it has none yet.
  std::optional<uint32_t> AddName(Domain domain, const std::string& name);

  mutable std::mutex listeners_mutex_;  // AddListener names a spare while a scrape reads
  std::array<std::vector<std::string>, kDomainCount> values_;
  std::function<std::vector<std::string>()> rule_labels_;
  internal::Layout layout_;
  internal::Slots global_;
  mutable std::mutex policy_hash_mutex_;  // a reload sets it while a scrape reads it
  std::string policy_hash_;
  mutable std::mutex threads_mutex_;  // guards threads_ (not their contents)
  std::vector<std::unique_ptr<ThreadCounters>> threads_;
};

}  // namespace moat::metrics
