// One load of moat.yaml and what the data path builds from it, as a reload hands it to
// every worker. A connection keeps the one it was accepted under until it ends (its
// limits, login rules and upstream do not shift under it); new connections take the
// newest. The policy is the exception: workers swap it for live sessions too.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "policy/auth/authenticator.h"
#include "proxy/config/config.h"
#include "proxy/tls/tls_context.h"
#include "proxy/upstream.h"

namespace moat::proxy {

struct LiveConfig {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const policy::Authenticator> authenticator;
  std::string upstream_password;  // upstream.credentials: replace
  // Immutable once made, so every worker shares it; holds a reference into `config`.
  std::shared_ptr<const Upstream> upstream;
};

// `upstream_tls`: from tls::MakeTlsContexts(*config), null for a plain TCP upstream.
absl::StatusOr<std::shared_ptr<const LiveConfig>> MakeLiveConfig(
    std::shared_ptr<const config::Config> config, tls::SslCtxPtr upstream_tls);

}  // namespace moat::proxy
