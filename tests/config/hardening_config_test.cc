// The config keys that keep moat closed and bounded by default: what each defaults to,
// what it refuses, and the warnings for what is valid but likely not meant.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/config/config_fixture.h"

namespace moat::config::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- policy ----------------------------------------------------------------------------

TEST_F(ConfigTest, WithoutAPolicyEverythingIsDeniedAndTheConfigSaysSo) {
  const auto config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->policy.allow_all);
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_THAT(config->warnings[0], HasSubstr("moat.yaml:1: warning: no policy: every PUBLISH, "
                                             "SUBSCRIBE and Will is denied"));
}

TEST_F(ConfigTest, AllowAllIsTheOneWayToGrantEverythingAndIsWarnedAbout) {
  const auto config = Load(std::string(kMinimal) + "policy:\n  allow_all: true\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->policy.allow_all);
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_THAT(config->warnings[0],
              HasSubstr("moat.yaml:6: warning: policy.allow_all: every client that logs in may "
                        "publish and subscribe to any topic"));
}

TEST_F(ConfigTest, APolicyFileNeedsNoWarning) {
  dir_.Write("acl", "topic read a/#\n");
  const auto config = Load(std::string(kMinimal) + "policy:\n  acl_file: acl\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->warnings, IsEmpty());
}

TEST_F(ConfigTest, AllowAllBesideAPolicyFileIsAContradiction) {
  dir_.Write("acl", "topic read a/#\n");
  EXPECT_EQ(Problem(std::string(kMinimal) + "policy:\n  acl_file: acl\n  allow_all: true\n"),
            "moat.yaml:7: 'policy.allow_all' grants everything: it cannot stand next to "
            "'policy.acl_file' or 'policy.file'");
}

}  // namespace
}  // namespace moat::config::test
