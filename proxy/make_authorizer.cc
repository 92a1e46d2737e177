#include "proxy/make_authorizer.h"

#include "policy/acl/load_policy.h"

namespace moat::proxy {

absl::StatusOr<std::shared_ptr<const policy::Authorizer>> MakeAuthorizer(
    const config::Config& config, uint64_t version) {
  std::shared_ptr<const policy::Authorizer> authorizer;
  if (config.policy.allow_all) {
    authorizer = policy::MakeAllowAllAuthorizer();
  } else if (config.policy.acl_file.empty() && config.policy.file.empty()) {
    authorizer = policy::MakeDenyAllAuthorizer();
  } else {
    auto loaded = policy::LoadPolicy(config.policy.acl_file, config.policy.file, version,
                                     config.policy.subscription_grant);
    if (!loaded.ok()) return loaded.status();
    authorizer = *std::move(loaded);
  }
  if (config.policy.audit_only) authorizer = policy::MakeAuditModeAuthorizer(authorizer);
  return authorizer;
}

}  // namespace moat::proxy
