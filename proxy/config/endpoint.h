// Parsing of the "host:port" strings in the config (listener and metrics binds, the
// upstream address). Endpoint itself lives in config.h.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"

namespace moat::config {

// Accepts "host:port", "[ipv6]:port" and "hostname:port" with a port of 1..65535. An
// unbracketed IPv6 address is refused rather than split at its last colon: "::1:8883"
// could be meant as either [::1]:8883 or [::1:8883] without a port. The host is stored
// without brackets. On failure the status message says what is wrong, without location.
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace moat::config
