// The control-plane side of metrics: building the registry from the config, certificate
// expiry gauges, and the fingerprint that lets the timer notice changed files. /readyz's
// check is proxy/readiness.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "proxy/config/config.h"

namespace moat::proxy {

absl::StatusOr<std::unique_ptr<metrics::MetricsRegistry>> MakeRegistry(
    const config::Config& config);

// The Authorization header /metrics requires, from metrics.bearer_token_file or
// metrics.basic_auth_file; empty when neither is set.
absl::StatusOr<std::string> MetricsAuthorization(const config::Metrics& metrics);

// moat_certificate_expiry_timestamp_seconds for every certificate the config names.
void RecordCertificateExpiry(const config::Config& config, metrics::MetricsRegistry& registry);

// A cheap fingerprint of every file a reload reads (path, inode, size, mtime after
// following symlinks): Kubernetes updates a mounted ConfigMap or Secret by swapping a
// symlink, which changes the inode the path resolves to.
std::string WatchedFilesFingerprint(const config::Config& config);

}  // namespace moat::proxy
