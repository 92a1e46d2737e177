#include "policy/acl/load_policy.h"

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"

namespace moat::policy {

absl::StatusOr<std::shared_ptr<const Authorizer>> LoadPolicy(const std::string& acl_file,
                                                             const std::string& yaml_file,
                                                             uint64_t version,
                                                             SubscriptionGrant grant) {
  if (acl_file.empty() && yaml_file.empty()) {
    return absl::InvalidArgumentError("no policy file given (acl_file or file)");
  }
  std::vector<std::string> problems;
  std::optional<AclFile> acl;
  std::optional<YamlPolicy> yaml;
  if (!acl_file.empty()) {
    absl::StatusOr<AclFile> parsed = LoadAclFile(acl_file);
    if (parsed.ok()) {
      acl = std::move(*parsed);
    } else {
      problems.emplace_back(parsed.status().message());
    }
  }
  if (!yaml_file.empty()) {
    absl::StatusOr<YamlPolicy> parsed = LoadYamlPolicy(yaml_file);
    if (parsed.ok()) {
      yaml = std::move(*parsed);
    } else {
      problems.emplace_back(parsed.status().message());
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));

  AclPolicy::Builder builder;
  builder.SetSubscriptionGrant(grant);
  if (acl) AddAclFile(*acl, builder);
  if (yaml) AddYamlPolicy(*yaml, builder);
  return std::shared_ptr<const Authorizer>(std::move(builder).Build(version));
}

}  // namespace moat::policy
