// Operational log lines to stderr. Nothing secret ever reaches these functions:
// callers pass identities and reasons, never credentials.
#pragma once

#include <string_view>

#include "policy/authorizer.h"

namespace moat::proxy {

void LogInfo(std::string_view message);
void LogWarning(std::string_view message);
void LogError(std::string_view message);
void LogSessionEnd(const policy::ClientIdentity& client, std::string_view reason,
                   std::string_view detail);

}  // namespace moat::proxy
