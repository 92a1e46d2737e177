// One load of moat.yaml and what the data path builds from it, as a reload hands it to
// every worker. A connection keeps the one it was accepted under until it ends (its
// limits, login rules and upstream do not shift under it); new connections take the
// newest. The policy is the exception: workers swap it for live sessions too.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "policy/auth/authenticator.h"
#include "proxy/config/config.h"
#include "proxy/tls/tls_context.h"
#include "proxy/upstream.h"
#include "proxy/upstream_health.h"

namespace moat::proxy {

struct LiveConfig {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const policy::Authenticator> authenticator;
  std::string upstream_password;  // upstream.credentials: replace
  // Which servers are up, and their probes: carried over to the next LiveConfig while
  // the upstream section (and the password) stay the same, so a reload forgets no outage.
  std::shared_ptr<UpstreamHealth> health;
  // The pool over `health` (upstream_pool.h), shared by every worker; refers into
  // `config` and `health`.
  std::shared_ptr<const Upstream> upstream;
};

// `contexts`: tls::MakeTlsContexts(*config). `previous`: the LiveConfig in force, if any,
// whose health is kept when the upstream did not change (its TLS contexts then still
// those of `previous`: UpstreamHealth::SetTlsContexts once the reload is accepted).
// `metrics` may be null (tests).
absl::StatusOr<std::shared_ptr<const LiveConfig>> MakeLiveConfig(
    std::shared_ptr<const config::Config> config, const tls::TlsContexts& contexts,
    const LiveConfig* previous, metrics::MetricsRegistry* metrics);

}  // namespace moat::proxy
