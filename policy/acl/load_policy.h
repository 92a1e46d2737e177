// Loads the configured policy sources into one immutable Authorizer snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "policy/authorizer.h"

namespace moat::policy {

// Reads the mosquitto `acl_file` and/or the native YAML policy (either path may be empty,
// not both) and builds one AclPolicy from them: a deny in either wins, an allow in either
// grants, what neither grants is denied. acl_file lines are numbered before native rules,
// so when several rules decide alike the acl_file line is named. On any problem, one
// InvalidArgument status lists every problem of both files as "FILE:LINE: message" (the
// acl_file's first), and no policy is built: a reload keeps the old snapshot.
absl::StatusOr<std::shared_ptr<const Authorizer>> LoadPolicy(
    const std::string& acl_file, const std::string& yaml_file, uint64_t version,
    SubscriptionGrant grant = SubscriptionGrant::kAnyReadable);

}  // namespace moat::policy
