// Who a client is, decided before anything reaches the broker: only a password file or a
// verified certificate makes a name an identity.
#include "policy/auth/authenticator.h"

#include <gtest/gtest.h>

namespace moat::policy {
namespace {

AuthOptions Options(bool anonymous, bool password_file) {
  AuthOptions options;
  options.allow_anonymous = anonymous;
  options.have_password_file = password_file;
  return options;
}

AuthRequest Login(std::optional<std::string_view> user, bool password) {
  AuthRequest request;
  request.mqtt5 = true;
  request.client_id = "c1";
  request.username = user;
  request.has_password = password;
  return request;
}

TEST(Authenticator, AUserNameWithoutAPasswordFileIsAnonymous) {
  const Authenticator auth(Options(true, false));
  const AuthPlan plan = auth.Plan(Login("alice", false));
  EXPECT_EQ(plan.failure, AuthFailure::kNone);
  EXPECT_EQ(plan.identity, "");  // never alice's rules
  EXPECT_FALSE(plan.verify_password);
}

TEST(Authenticator, AUserNameWithoutAPasswordFileIsRefusedWhenAnonymousIsNot) {
  const Authenticator auth(Options(false, false));
  EXPECT_EQ(auth.Plan(Login("alice", true)).failure, AuthFailure::kBadCredentials);
}

TEST(Authenticator, WithAPasswordFileTheNameIsCheckedAndThenTheIdentity) {
  const Authenticator auth(Options(true, true));
  const AuthPlan plan = auth.Plan(Login("alice", true));
  EXPECT_EQ(plan.identity, "alice");
  EXPECT_TRUE(plan.verify_password);
  EXPECT_EQ(auth.Plan(Login("alice", false)).failure, AuthFailure::kBadCredentials);
}

TEST(Authenticator, AVerifiedCertificateNamesTheClient) {
  AuthOptions options = Options(false, false);
  options.require = AuthRequirement::kCertificate;
  options.certificate_identity = true;
  const Authenticator auth(options);
  AuthRequest request = Login(std::nullopt, false);
  request.certificate_identity = "dev-7";
  EXPECT_EQ(auth.Plan(request).identity, "dev-7");
  request.username = "alice";
  EXPECT_EQ(auth.Plan(request).failure, AuthFailure::kCertificateUserMismatch);
}

TEST(Authenticator, ThePlanNamesWhatVouchesForTheIdentity) {
  const Authenticator passwords(Options(true, true));
  EXPECT_EQ(passwords.Plan(Login("alice", true)).method, AuthMethod::kPassword);
  EXPECT_EQ(passwords.Plan(Login(std::nullopt, false)).method, AuthMethod::kAnonymous);
  // A name no password file can check proves nothing, whatever else came with it.
  EXPECT_EQ(Authenticator(Options(true, false)).Plan(Login("alice", true)).method,
            AuthMethod::kAnonymous);

  AuthOptions options = Options(false, true);
  options.require = AuthRequirement::kCertificate;
  options.certificate_identity = true;
  AuthRequest request = Login(std::nullopt, true);
  request.certificate_identity = "dev-7";
  EXPECT_EQ(Authenticator(options).Plan(request).method, AuthMethod::kCertificate);
  options.require = AuthRequirement::kCertificateAndPassword;
  EXPECT_EQ(Authenticator(options).Plan(request).method, AuthMethod::kCertificateAndPassword);
  EXPECT_EQ(AuthMethodName(AuthMethod::kCertificateAndPassword), "certificate_and_password");
}

TEST(Authenticator, ATokenNamesTheClientOnlyOnceVerified) {
  AuthOptions options = Options(false, false);
  options.require = AuthRequirement::kToken;
  const Authenticator auth(options);
  const AuthPlan plan = auth.Plan(Login(std::nullopt, true));
  EXPECT_EQ(plan.failure, AuthFailure::kNone);
  EXPECT_TRUE(plan.verify_token);
  EXPECT_FALSE(plan.verify_password);
  EXPECT_EQ(plan.identity, "");  // until the token says who
  EXPECT_EQ(plan.method, AuthMethod::kToken);
  // A user name without a token proves nothing, and no client gets in without one.
  EXPECT_EQ(auth.Plan(Login("alice", false)).failure, AuthFailure::kBadToken);
  EXPECT_EQ(auth.Plan(Login(std::nullopt, false)).failure, AuthFailure::kAnonymousRefused);
}

TEST(Authenticator, PasswordOrTokenGoesByTheShapeOfThePassword) {
  AuthOptions options = Options(false, true);
  options.require = AuthRequirement::kPasswordOrToken;
  const Authenticator auth(options);
  AuthRequest request = Login("alice", true);
  EXPECT_TRUE(auth.Plan(request).verify_password);
  request.password_is_token = true;
  const AuthPlan token = auth.Plan(request);
  EXPECT_TRUE(token.verify_token);
  EXPECT_FALSE(token.verify_password);
}

TEST(Authenticator, CertificateAndTokenNeedsBoth) {
  AuthOptions options = Options(false, false);
  options.require = AuthRequirement::kCertificateAndToken;
  options.certificate_identity = true;
  const Authenticator auth(options);
  AuthRequest request = Login(std::nullopt, true);
  EXPECT_EQ(auth.Plan(request).failure, AuthFailure::kCertificateRequired);
  request.certificate_identity = "edge-1";
  const AuthPlan plan = auth.Plan(request);
  EXPECT_EQ(plan.identity, "edge-1");
  EXPECT_TRUE(plan.verify_token);
  EXPECT_EQ(plan.method, AuthMethod::kCertificateAndToken);
  request.has_password = false;
  EXPECT_EQ(auth.Plan(request).failure, AuthFailure::kBadToken);
}

}  // namespace
}  // namespace moat::policy
