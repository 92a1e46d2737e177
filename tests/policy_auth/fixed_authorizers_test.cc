// Without a policy file moat grants nothing but the login; allow_all grants everything.
#include <gtest/gtest.h>

#include "policy/authorizer.h"

namespace moat::policy {
namespace {

TEST(FixedAuthorizers, WithoutAPolicyOnlyTheConnectIsAllowed) {
  const auto deny_all = MakeDenyAllAuthorizer();
  const ClientIdentity alice{.username = "alice",
                             .client_id = "c",
                             .cert_identity = "",
                             .address = "192.0.2.1",
                             .listener = "l",
                             .groups = {},
                             .memo = {}};
  EXPECT_TRUE(deny_all->AuthorizeConnect(alice).allowed());
  for (const Decision& decision :
       {deny_all->MayPublish(alice, "a/b", 0, false), deny_all->MaySubscribe(alice, "#", 0),
        deny_all->MaySubscribe(alice, "$SYS/#", 0), deny_all->MayReceive(alice, "a/b")}) {
    EXPECT_FALSE(decision.allowed());
    EXPECT_EQ(decision.reason, DenyReason::kNoRule);
    EXPECT_EQ(decision.rule, "no_policy");
  }
}

TEST(FixedAuthorizers, AllowAllGrantsEverything) {
  const auto allow_all = MakeAllowAllAuthorizer();
  const ClientIdentity anyone{};
  EXPECT_TRUE(allow_all->MayPublish(anyone, "a/b", 2, true).allowed());
  EXPECT_TRUE(allow_all->MaySubscribe(anyone, "#", 2).allowed());
}

}  // namespace
}  // namespace moat::policy
