// `moat policy explain --token FILE`: who a bearer token (or a claims file) makes the
// client, before the policy is asked what that client may do.
#pragma once

#include <ostream>
#include <string>

#include "policy/authorizer.h"
#include "proxy/config/config.h"

namespace moat::proxy {

// Fills `client` (identity and groups) from the token in `path` and prints one "token:"
// line to `out`. A compact JWS is verified as moat would at CONNECT (keys, issuer,
// audience, times, now); a file holding a JSON object is read as claims, unverified.
// Returns policy::kExplainAllow to go on, kExplainDeny when the token would be refused
// (the line says why) and kExplainBadInput when it cannot be checked (`err` says why).
int ExplainToken(const config::Config& config, const std::string& path,
                 policy::ClientIdentity& client, std::ostream& out, std::ostream& err);

}  // namespace moat::proxy
