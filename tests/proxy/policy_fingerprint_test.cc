// PolicyFingerprint(): what moat_policy_info{sha256} tells replicas apart by.
#include "proxy/policy_fingerprint.h"

#include <gtest/gtest.h>

#include "tests/file_reading/temp_dir.h"

namespace moat::proxy {
namespace {

using moat::test::TempDir;

config::Config WithFiles(TempDir& dir, std::string_view folder, std::string_view acl,
                         std::string_view passwd) {
  config::Config config;
  config.policy.acl_file = dir.Write(std::string(folder) + "/acl", acl);
  config.auth.password_file = dir.Write(std::string(folder) + "/passwd", passwd);
  return config;
}

TEST(PolicyFingerprint, TheSameFilesUnderOtherPathsHashAlike) {
  TempDir dir;
  const std::string one = PolicyFingerprint(WithFiles(dir, "one", "user a\n", "a:x\n"));
  EXPECT_EQ(one.size(), 64u);
  EXPECT_EQ(one.find_first_not_of("0123456789abcdef"), std::string::npos) << one;
  EXPECT_EQ(PolicyFingerprint(WithFiles(dir, "two", "user a\n", "a:x\n")), one);
}

TEST(PolicyFingerprint, AnyChangeToWhatDecidesChangesIt) {
  TempDir dir;
  const config::Config base = WithFiles(dir, "base", "user a\n", "a:x\n");
  const std::string hash = PolicyFingerprint(base);
  EXPECT_NE(PolicyFingerprint(WithFiles(dir, "acl", "user b\n", "a:x\n")), hash);
  EXPECT_NE(PolicyFingerprint(WithFiles(dir, "passwd", "user a\n", "a:y\n")), hash);
  // The bytes of one file moved into another are another policy.
  EXPECT_NE(PolicyFingerprint(WithFiles(dir, "moved", "user a\na:x\n", "")), hash);
  config::Config audit = base;
  audit.policy.audit_only = true;
  EXPECT_NE(PolicyFingerprint(audit), hash);
  config::Config all_readable = base;
  all_readable.policy.subscription_grant = policy::SubscriptionGrant::kAllReadable;
  EXPECT_NE(PolicyFingerprint(all_readable), hash);
  config::Config no_passwords = base;
  no_passwords.auth.password_file.clear();
  EXPECT_NE(PolicyFingerprint(no_passwords), hash);
  config::Config unreadable = base;
  unreadable.auth.password_file = dir.File("missing");
  EXPECT_NE(PolicyFingerprint(unreadable), hash);
  EXPECT_NE(PolicyFingerprint(unreadable), PolicyFingerprint(no_passwords));
}

}  // namespace
}  // namespace moat::proxy
