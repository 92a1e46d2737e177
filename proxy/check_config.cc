#include "proxy/check_config.h"

#include <cstdio>

#include "proxy/auth/auth_services.h"
#include "proxy/config/config.h"
#include "proxy/make_authorizer.h"
#include "proxy/source_addresses.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {

bool CheckConfig(const std::string& path) {
  auto config = config::LoadConfig(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return false;
  }
  bool valid = true;
  auto report = [&](const absl::Status& status) {
    if (status.ok()) return;
    valid = false;
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  };
  report(tls::MakeTlsContexts(*config).status());
  if (config->admin.tls) {
    const auto admin_tls = tls::MakeServerContext(*config->admin.tls);
    if (!admin_tls.ok()) {
      report(absl::InvalidArgumentError("admin.tls: " + std::string(admin_tls.status().message())));
    }
  }
  report(AuthServices::Create(*config).status());
  report(CheckSourceAddresses(config->upstream.source_addresses));
  report(MakeAuthorizer(*config, 1).status());
  for (const std::string& warning : config->warnings) {
    std::fprintf(stderr, "%s\n", warning.c_str());
  }
  if (valid) std::printf("%s: configuration is valid\n", path.c_str());
  return valid;
}

}  // namespace moat::proxy
