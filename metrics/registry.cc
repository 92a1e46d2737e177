#include "metrics/registry.h"

#include <openssl/crypto.h>

#include <limits>
#include <set>

#include "absl/status/status.h"
#include "metrics/process_metrics.h"
#include "proxy/mqtt/utf8.h"

namespace moat::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Label values from the config end up verbatim in the exposition: they must be valid
// UTF-8 without control characters, unique and non-empty.
absl::Status CheckValues(std::string_view what, const std::vector<std::string>& values) {
  std::set<std::string_view> seen;
  for (const std::string& value : values) {
    if (value.empty()) return absl::InvalidArgumentError(std::string(what) + " is empty");
    if (!mqtt::IsValidMqttUtf8(value)) {
      return absl::InvalidArgumentError(std::string(what) + " \"" + value +
                                        "\" is not printable UTF-8");
    }
    if (!seen.insert(value).second) {
      return absl::InvalidArgumentError(std::string(what) + " \"" + value + "\" appears twice");
    }
  }
  return absl::OkStatus();
}

MetricType PrometheusType(metrics::MetricType type) {
  switch (type) {
    case metrics::MetricType::kCounter:
      return MetricType::Counter;
    case metrics::MetricType::kGauge:
      return MetricType::Gauge;
    case metrics::MetricType::kHistogram:
      return MetricType::Histogram;
  }
  return MetricType::Untyped;
}

double SumOf(uint64_t bits) { return std::bit_cast<double>(bits); }

// Whether a series goes into the scrape: always, except in a sparse domain (IsSparse),
// where values past 0 appear once counted, and never under a name not given out. Only
// counters have sparse labels, so `first_slot` is the series' value.
bool Exported(const MetricDef& def, const internal::MetricLayout& metric, uint32_t series,
              uint64_t first_slot,
              const std::array<const std::vector<std::string>*, kDomainCount>& values) {
  for (size_t i = 0; i < def.labels.size; ++i) {
    const Domain domain = def.labels.items[i].domain;
    if (domain == Domain::kListener || domain == Domain::kUpstreamServer) {
      // A spare no reload has named yet.
      const uint32_t index = series / metric.stride[i] % metric.cardinality[i];
      if ((*values[static_cast<size_t>(domain)])[index].empty()) return false;
      continue;
    }
    if (!IsSparse(domain)) continue;
    const uint32_t index = series / metric.stride[i] % metric.cardinality[i];
    if (index == 0) continue;
    if (first_slot == 0 || (*values[static_cast<size_t>(domain)])[index].empty()) return false;
  }
  return true;
}

void AddProcessSample(const MetricDef& def, const ProcessStats& stats, MetricFamily& family) {
  std::optional<double> value;
  switch (def.id) {
    case Metric::kProcessCpuSecondsTotal:
      value = stats.cpu_seconds;
      break;
    case Metric::kProcessResidentMemoryBytes:
      value = stats.resident_memory_bytes;
      break;
    case Metric::kProcessOpenFds:
      value = stats.open_fds;
      break;
    case Metric::kProcessMaxFds:
      value = stats.max_fds;
      break;
    case Metric::kProcessStartTimeSeconds:
      value = stats.start_time_seconds;
      break;
    default:
      break;
  }
  if (!value) return;  // /proc unreadable: HELP and TYPE only
  ClientMetric& sample = family.metric.emplace_back();
  if (def.type == metrics::MetricType::kCounter) {
    sample.counter.value = *value;
  } else {
    sample.gauge.value = *value;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsRegistry>> MetricsRegistry::Create(RegistryOptions options) {
  if (absl::Status status = CheckValues("listener name", options.listeners); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckValues("certificate path", options.certificate_files);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckValues("CRL path", options.crl_files); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckValues("upstream server", options.upstream_servers);
      !status.ok()) {
    return status;
  }
  if (options.version.empty()) options.version = "unknown";
  if (options.openssl_version.empty()) {
    options.openssl_version = OpenSSL_version(OPENSSL_VERSION_STRING);
  }
  if (absl::Status status = CheckValues("version", {options.version}); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckValues("OpenSSL version", {options.openssl_version});
      !status.ok()) {
    return status;
  }
  return std::unique_ptr<MetricsRegistry>(new MetricsRegistry(std::move(options)));
}

std::array<std::vector<std::string>, kDomainCount> MetricsRegistry::MakeValues(
    const RegistryOptions& options) {
  std::array<std::vector<std::string>, kDomainCount> values;
  for (size_t d = 0; d < kDomainCount; ++d) {
    for (std::string_view value : ClosedDomainValues(static_cast<Domain>(d))) {
      values[d].emplace_back(value);
    }
  }
  values[static_cast<size_t>(Domain::kListener)] = options.listeners;
  values[static_cast<size_t>(Domain::kListener)].resize(options.listeners.size() +
                                                        options.spare_listeners);
  values[static_cast<size_t>(Domain::kCertificateFile)] = options.certificate_files;
  values[static_cast<size_t>(Domain::kCrlFile)] = options.crl_files;
  values[static_cast<size_t>(Domain::kUpstreamServer)] = options.upstream_servers;
  values[static_cast<size_t>(Domain::kUpstreamServer)].resize(options.upstream_servers.size() +
                                                              options.spare_upstream_servers);
  values[static_cast<size_t>(Domain::kVersion)] = {options.version};
  values[static_cast<size_t>(Domain::kOpenssl)] = {options.openssl_version};
  values[static_cast<size_t>(Domain::kPolicyHash)] = {std::string()};
  std::vector<std::string>& rules = values[static_cast<size_t>(Domain::kRule)];
  rules.resize(kRuleLabelCount);
  rules[kNoRuleLabel.index] = std::string(kNoRuleLabelName);
  return values;
}

internal::Layout MetricsRegistry::MakeLayout(
    const std::array<std::vector<std::string>, kDomainCount>& values) {
  internal::Layout layout;
  uint32_t next = 0;
  for (const MetricDef& def : kMetricTable) {
    internal::MetricLayout& metric = layout.metrics[static_cast<size_t>(def.id)];
    metric.offset = next;
    metric.series_slots = def.type == metrics::MetricType::kHistogram
                              ? static_cast<uint32_t>(def.buckets.size()) + 2
                              : 1;
    uint32_t series = 1;
    for (size_t i = def.labels.size; i-- > 0;) {
      const Domain domain = def.labels.items[i].domain;
      metric.cardinality[i] = static_cast<uint32_t>(values[static_cast<size_t>(domain)].size());
      metric.stride[i] = series;
      series *= metric.cardinality[i];
    }
    metric.series_count = def.source == Source::kCounted ? series : 0;
    next += metric.series_count * metric.series_slots;
  }
  layout.slot_count = next;
  return layout;
}

MetricsRegistry::MetricsRegistry(RegistryOptions options)
    : values_(MakeValues(options)),
      rule_labels_(std::move(options.rule_labels)),
      layout_(MakeLayout(values_)),
      global_(layout_.slot_count) {
  // moat_build_info has one series, whose labels come from the options: always 1.
  global_[layout_.metrics[static_cast<size_t>(Metric::kBuildInfo)].offset].store(1);
  // So has moat_policy_info; until SetPolicyHash() its label is empty and it is left out.
  global_[layout_.metrics[static_cast<size_t>(Metric::kPolicyInfo)].offset].store(1);
}

void MetricsRegistry::SetPolicyHash(std::string sha256) {
  std::lock_guard lock(policy_hash_mutex_);
  policy_hash_ = std::move(sha256);
}

ThreadCounters& MetricsRegistry::AddThread() {
  std::lock_guard lock(threads_mutex_);
  threads_.push_back(std::unique_ptr<ThreadCounters>(new ThreadCounters(layout_)));
  return *threads_.back();
}

std::optional<ListenerId> MetricsRegistry::FindListener(std::string_view name) const {
  const auto index = IndexOf(Domain::kListener, name);
  if (!index) return std::nullopt;
  return ListenerId{*index};
}

std::optional<uint32_t> MetricsRegistry::AddName(Domain domain, const std::string& name) {
  if (!CheckValues("name", {name}).ok()) return std::nullopt;
  std::lock_guard lock(listeners_mutex_);
  std::vector<std::string>& names = values_[static_cast<size_t>(domain)];
  for (uint32_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  for (uint32_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      names[i] = name;
      return i;
    }
  }
  return std::nullopt;
}

std::optional<ListenerId> MetricsRegistry::AddListener(const std::string& name) {
  const std::optional<uint32_t> index = AddName(Domain::kListener, name);
  if (!index) return std::nullopt;
  return ListenerId{*index};
}

std::optional<UpstreamServerId> MetricsRegistry::AddUpstreamServer(const std::string& name) {
  const std::optional<uint32_t> index = AddName(Domain::kUpstreamServer, name);
  if (!index) return std::nullopt;
  return UpstreamServerId{*index};
}

std::optional<uint32_t> MetricsRegistry::IndexOf(Domain domain, std::string_view value) const {
  std::lock_guard lock(listeners_mutex_);
  const std::vector<std::string>& values = values_[static_cast<size_t>(domain)];
  for (uint32_t i = 0; i < values.size(); ++i) {
    if (values[i] == value) return i;
  }
  return std::nullopt;
}

std::optional<CertificateFileId> MetricsRegistry::FindCertificateFile(std::string_view path) const {
  const auto index = IndexOf(Domain::kCertificateFile, path);
  if (!index) return std::nullopt;
  return CertificateFileId{*index};
}

std::optional<CrlFileId> MetricsRegistry::FindCrlFile(std::string_view path) const {
  const auto index = IndexOf(Domain::kCrlFile, path);
  if (!index) return std::nullopt;
  return CrlFileId{*index};
}

std::vector<uint64_t> MetricsRegistry::SumSlots() const {
  std::vector<uint64_t> sums(layout_.slot_count);
  for (uint32_t slot = 0; slot < layout_.slot_count; ++slot) {
    sums[slot] = global_[slot].load(std::memory_order_relaxed);
  }
  std::lock_guard lock(threads_mutex_);
  for (const auto& thread : threads_) {
    for (uint32_t slot = 0; slot < layout_.slot_count; ++slot) {
      sums[slot] += thread->slots_[slot].load(std::memory_order_relaxed);
    }
  }
  // A histogram's sum slot holds a double: add those as doubles.
  for (const MetricDef& def : kMetricTable) {
    if (def.type != metrics::MetricType::kHistogram) continue;
    const internal::MetricLayout& metric = layout_.metrics[static_cast<size_t>(def.id)];
    for (uint32_t series = 0; series < metric.series_count; ++series) {
      const uint32_t slot = metric.offset + series * metric.series_slots + metric.series_slots - 1;
      double sum = SumOf(global_[slot].load(std::memory_order_relaxed));
      for (const auto& thread : threads_) {
        sum += SumOf(thread->slots_[slot].load(std::memory_order_relaxed));
      }
      sums[slot] = std::bit_cast<uint64_t>(sum);
    }
  }
  return sums;
}

std::array<const std::vector<std::string>*, kDomainCount> MetricsRegistry::ScrapeValues(
    std::vector<std::string>& rule_names, std::vector<std::string>& policy_hash,
    std::vector<std::string>& listener_names,
    std::vector<std::string>& upstream_server_names) const {
  std::array<const std::vector<std::string>*, kDomainCount> values;
  for (size_t d = 0; d < kDomainCount; ++d) values[d] = &values_[d];
  {
    std::lock_guard lock(listeners_mutex_);
    listener_names = values_[static_cast<size_t>(Domain::kListener)];
    upstream_server_names = values_[static_cast<size_t>(Domain::kUpstreamServer)];
  }
  values[static_cast<size_t>(Domain::kListener)] = &listener_names;
  values[static_cast<size_t>(Domain::kUpstreamServer)] = &upstream_server_names;
  {
    std::lock_guard lock(policy_hash_mutex_);
    policy_hash = {policy_hash_};
  }
  values[static_cast<size_t>(Domain::kPolicyHash)] = &policy_hash;
  if (rule_labels_) {
    rule_names = rule_labels_();
    rule_names.resize(kRuleLabelCount);
    // The value that is always exported keeps its name, whatever the callback says.
    rule_names[kNoRuleLabel.index] = std::string(kNoRuleLabelName);
    for (std::string& name : rule_names) {
      if (!mqtt::IsValidMqttUtf8(name)) name.clear();
    }
    values[static_cast<size_t>(Domain::kRule)] = &rule_names;
  }
  return values;
}

std::vector<MetricFamily> MetricsRegistry::Collect() const {
  const std::vector<uint64_t> sums = SumSlots();
  const ProcessStats process = ReadProcessStats();
  std::vector<std::string> rule_names;
  std::vector<std::string> policy_hash;
  std::vector<std::string> listener_names;
  std::vector<std::string> upstream_server_names;
  const auto values = ScrapeValues(rule_names, policy_hash, listener_names, upstream_server_names);

  std::vector<MetricFamily> families;
  families.reserve(kMetricCount);
  for (const MetricDef& def : kMetricTable) {
    MetricFamily& family = families.emplace_back();
    family.name = def.name;
    family.help = def.help;
    family.type = PrometheusType(def.type);
    if (def.source == Source::kProcess) {
      AddProcessSample(def, process, family);
      continue;
    }
    if (def.id == Metric::kPolicyInfo && policy_hash.front().empty()) continue;
    const internal::MetricLayout& metric = layout_.metrics[static_cast<size_t>(def.id)];
    family.metric.reserve(metric.series_count);
    for (uint32_t series = 0; series < metric.series_count; ++series) {
      const uint32_t slot = metric.offset + series * metric.series_slots;
      if (!Exported(def, metric, series, sums[slot], values)) continue;
      ClientMetric& sample = family.metric.emplace_back();
      for (size_t i = 0; i < def.labels.size; ++i) {
        const uint32_t index = series / metric.stride[i] % metric.cardinality[i];
        const Domain domain = def.labels.items[i].domain;
        sample.label.push_back(
            {std::string(def.labels.items[i].name), (*values[static_cast<size_t>(domain)])[index]});
      }
      switch (def.type) {
        case metrics::MetricType::kCounter:
          sample.counter.value = static_cast<double>(sums[slot]);
          break;
        case metrics::MetricType::kGauge:
          sample.gauge.value = static_cast<double>(static_cast<int64_t>(sums[slot]));
          break;
        case metrics::MetricType::kHistogram: {
          uint64_t cumulative = 0;
          for (size_t b = 0; b <= def.buckets.size(); ++b) {
            cumulative += sums[slot + b];
            sample.histogram.bucket.push_back(
                {cumulative, b < def.buckets.size() ? def.buckets[b]
                                                    : std::numeric_limits<double>::infinity()});
          }
          sample.histogram.sample_count = cumulative;
          sample.histogram.sample_sum = SumOf(sums[slot + def.buckets.size() + 1]);
          break;
        }
      }
    }
  }
  return families;
}

}  // namespace moat::metrics
