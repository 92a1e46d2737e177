#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "policy/authorizer.h"
#include "proxy/config/config.h"

namespace moat::proxy {

// The policy the config asks for: the ACL file and/or native policy (default deny), or,
// with neither, allow-all (moat as a parsing-only proxy, authentication still applying).
// policy.mode: audit wraps it so denials are counted and logged but not enforced.
absl::StatusOr<std::shared_ptr<const policy::Authorizer>> MakeAuthorizer(
    const config::Config& config, uint64_t version);

}  // namespace moat::proxy
