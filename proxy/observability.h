// The control-plane side of metrics: building the registry from the config, certificate
// expiry and CRL nextUpdate gauges, and the fingerprint that lets the timer notice changed
// files. /readyz's check is proxy/readiness.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "proxy/config/config.h"

namespace moat::proxy {

// Listener names a run may add by reload past those configured at start: the metrics
// layout is fixed then (metrics/registry.h).
inline constexpr size_t kSpareListeners = 16;
// The same for upstream servers (`moat_upstream_server_*{server}`); a server past them is
// still used, only not counted.
inline constexpr size_t kSpareUpstreamServers = 16;

absl::StatusOr<std::unique_ptr<metrics::MetricsRegistry>> MakeRegistry(
    const config::Config& config);

// The Authorization header /metrics requires, from metrics.bearer_token_file or
// metrics.basic_auth_file; empty when neither is set.
absl::StatusOr<std::string> MetricsAuthorization(const config::Metrics& metrics);

// moat_certificate_expiry_timestamp_seconds for every certificate the config names.
void RecordCertificateExpiry(const config::Config& config, metrics::MetricsRegistry& registry);

// The earliest nextUpdate (Unix time) of the CRLs in a CRL file, 0 when none has one;
// nullopt when the file holds no CRL.
std::optional<int64_t> EarliestNextUpdate(const std::string& path);
// moat_crl_next_update_timestamp_seconds for every CRL file the config names.
void RecordCrlNextUpdate(const config::Config& config, metrics::MetricsRegistry& registry);

// A cheap fingerprint of every file a reload reads (path, inode, size, mtime after
// following symlinks): Kubernetes updates a mounted ConfigMap or Secret by swapping a
// symlink, which changes the inode the path resolves to.
std::string WatchedFilesFingerprint(const config::Config& config);

}  // namespace moat::proxy
