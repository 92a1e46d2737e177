#include "proxy/live_config.h"

#include "proxy/auth/auth_services.h"

namespace moat::proxy {

absl::StatusOr<std::shared_ptr<const LiveConfig>> MakeLiveConfig(
    std::shared_ptr<const config::Config> config, tls::SslCtxPtr upstream_tls) {
  auto password = ReadUpstreamPassword(config->upstream);
  if (!password.ok()) return password.status();
  auto live = std::make_shared<LiveConfig>();
  live->authenticator = MakeAuthenticator(*config);
  live->upstream_password = *std::move(password);
  live->upstream = std::make_shared<UpstreamConnector>(config->upstream, std::move(upstream_tls),
                                                       config->limits.tcp_keepalive);
  live->config = std::move(config);
  return live;
}

}  // namespace moat::proxy
