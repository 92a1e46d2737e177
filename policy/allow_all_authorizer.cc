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

}  // namespace

std::shared_ptr<const Authorizer> MakeAllowAllAuthorizer() {
  return std::make_shared<AllowAllAuthorizer>();
}

}  // namespace moat::policy
