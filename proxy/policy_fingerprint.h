// What moat_policy_info{sha256} carries: one hash over the files that decide who may do
// what, so a dashboard can tell whether every replica enforces the same ones.
#pragma once

#include <string>

#include "proxy/config/config.h"

namespace moat::proxy {

// Hex SHA-256 over the acl_file, the native policy file and the password file the config
// names, each as its role, its length and its bytes (a role without a file counts as
// absent, an unreadable file as unreadable), plus the settings that change what they
// mean (allow_all, mode, subscription_grant). Paths are left out: the same files under
// other paths on two replicas hash alike.
std::string PolicyFingerprint(const config::Config& config);

}  // namespace moat::proxy
