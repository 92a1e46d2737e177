// `moat ctl`'s side of the admin API: one HTTP(S) request to admin.bind with the same
// credentials the server checks (the bearer token file, and/or admin.ctl's client
// certificate), verifying the server's certificate against admin.ctl.ca (default:
// admin.tls.client_ca) and its name against admin.ctl.server_name (default: the bind host).
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"

namespace moat::proxy::admin {

struct CtlResponse {
  unsigned status = 0;
  std::string body;
};

absl::StatusOr<CtlResponse> SendAdminRequest(const config::Admin& admin, std::string_view method,
                                             std::string_view path, std::string_view body,
                                             std::chrono::milliseconds timeout);

}  // namespace moat::proxy::admin
