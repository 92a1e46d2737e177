// The two answers that need no policy file: everything, by explicit choice
// (policy.allow_all), or nothing but the CONNECT itself (no policy configured).
#include "policy/authorizer.h"

namespace moat::policy {
namespace {

class AllowAllAuthorizer final : public Authorizer {
 public:
  Decision AuthorizeConnect(const ClientIdentity&) const override { return Allow(); }
  Decision MayPublish(const ClientIdentity&, std::string_view, uint8_t, bool) const override {
    return Allow();
  }
  Decision MaySubscribe(const ClientIdentity&, std::string_view, uint8_t) const override {
    return Allow();
  }
  Decision MayReceive(const ClientIdentity&, std::string_view) const override { return Allow(); }

 private:
  static Decision Allow() { return {Verdict::kAllow, DenyReason::kNone, "allow_all"}; }
};

// Fail closed: a config that names no policy grants nothing. Clients may still log in,
// so the operator sees refusals counted instead of a proxy that refuses connections.
class DenyAllAuthorizer final : public Authorizer {
 public:
  Decision AuthorizeConnect(const ClientIdentity&) const override {
    return {Verdict::kAllow, DenyReason::kNone, "no_policy"};
  }
  Decision MayPublish(const ClientIdentity&, std::string_view, uint8_t, bool) const override {
    return Deny();
  }
  Decision MaySubscribe(const ClientIdentity&, std::string_view, uint8_t) const override {
    return Deny();
  }
  Decision MayReceive(const ClientIdentity&, std::string_view) const override { return Deny(); }

 private:
  static Decision Deny() { return {Verdict::kDeny, DenyReason::kNoRule, "no_policy"}; }
};

}  // namespace

std::shared_ptr<const Authorizer> MakeAllowAllAuthorizer() {
  return std::make_shared<AllowAllAuthorizer>();
}

std::shared_ptr<const Authorizer> MakeDenyAllAuthorizer() {
  return std::make_shared<DenyAllAuthorizer>();
}

}  // namespace moat::policy
