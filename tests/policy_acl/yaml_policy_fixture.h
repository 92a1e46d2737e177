// What the native policy's tests share: a policy built from YAML text (and an acl_file
// beside it), and the problems of a text that must be refused.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/yaml_policy.h"

namespace moat::policy::test {

// `labels`: a test's own RuleLabels, so that its numbers start afresh.
inline std::shared_ptr<const AclPolicy> Build(std::string_view yaml, std::string_view acl = {},
                                              RuleLabels& labels = RuleLabels::Global()) {
  AclPolicy::Builder builder;
  if (!acl.empty()) {
    absl::StatusOr<AclFile> file = ParseAclFile(acl, "acl");
    EXPECT_TRUE(file.ok()) << file.status();
    if (file.ok()) AddAclFile(*file, builder);
  }
  absl::StatusOr<YamlPolicy> policy = ParseYamlPolicy(yaml, "policy.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  if (policy.ok()) AddYamlPolicy(*policy, builder, labels);
  return std::move(builder).Build(1);
}

// Every problem of `yaml`, which must not load.
inline std::string Errors(std::string_view yaml) {
  absl::StatusOr<YamlPolicy> policy = ParseYamlPolicy(yaml, "policy.yaml");
  EXPECT_FALSE(policy.ok());
  return policy.ok() ? "" : std::string(policy.status().message());
}

// The problems of a policy of one rule, r1 (`effect` for everyone, `actions` on topic
// 't'), with `rule_keys` added at line 7; empty when it loads.
inline std::string RuleProblem(std::string_view rule_keys, std::string_view actions = "[publish]",
                               std::string_view effect = "allow") {
  const std::string yaml = "rules:\n  - id: r1\n    effect: " + std::string(effect) +
                           "\n    actions: " + std::string(actions) +
                           "\n    topics: ['t']\n    everyone: true\n" + std::string(rule_keys);
  absl::StatusOr<YamlPolicy> policy = ParseYamlPolicy(yaml, "policy.yaml");
  return policy.ok() ? "" : std::string(policy.status().message());
}

}  // namespace moat::policy::test
