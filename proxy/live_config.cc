#include "proxy/live_config.h"

#include "proxy/auth/auth_services.h"
#include "proxy/upstream_pool.h"

namespace moat::proxy {

absl::StatusOr<std::shared_ptr<const LiveConfig>> MakeLiveConfig(
    std::shared_ptr<const config::Config> config, const tls::TlsContexts& contexts,
    const LiveConfig* previous, metrics::MetricsRegistry* metrics) {
  auto password = ReadUpstreamPassword(config->upstream);
  if (!password.ok()) return password.status();
  auto live = std::make_shared<LiveConfig>();
  live->authenticator = MakeAuthenticator(*config);
  live->upstream_password = *std::move(password);
  if (previous != nullptr && previous->health &&
      previous->config->upstream_yaml == config->upstream_yaml &&
      previous->upstream_password == live->upstream_password) {
    // Its TLS contexts are the caller's to swap, once the reload is accepted.
    live->health = previous->health;
  } else {
    live->health = std::make_shared<UpstreamHealth>(config->upstream, contexts.upstream_servers,
                                                    config->limits.tcp_keepalive,
                                                    live->upstream_password, metrics);
    live->health->Start();
  }
  live->upstream = std::make_shared<UpstreamPool>(config->upstream, *live->health);
  live->config = std::move(config);
  return live;
}

}  // namespace moat::proxy
