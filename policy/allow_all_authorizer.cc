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

class AuditModeAuthorizer final : public Authorizer {
 public:
  explicit AuditModeAuthorizer(std::shared_ptr<const Authorizer> inner)
      : inner_(std::move(inner)) {}

  Decision AuthorizeConnect(const ClientIdentity& client) const override {
    return Soften(inner_->AuthorizeConnect(client));
  }
  Decision MayPublish(const ClientIdentity& client, std::string_view topic, uint8_t qos,
                      bool retain) const override {
    return Soften(inner_->MayPublish(client, topic, qos, retain));
  }
  Decision MaySubscribe(const ClientIdentity& client, std::string_view filter,
                        uint8_t qos) const override {
    return Soften(inner_->MaySubscribe(client, filter, qos));
  }
  Decision MayReceive(const ClientIdentity& client, std::string_view topic) const override {
    return Soften(inner_->MayReceive(client, topic));
  }
  uint64_t version() const override { return inner_->version(); }
  std::string_view RuleLocation(std::string_view rule) const override {
    return inner_->RuleLocation(rule);
  }

 private:
  static Decision Soften(Decision decision) {
    if (!decision.allowed()) {
      decision.verdict = Verdict::kAllow;
      decision.audit = true;
    }
    return decision;
  }
  std::shared_ptr<const Authorizer> inner_;
};

}  // namespace

std::shared_ptr<const Authorizer> MakeAuditModeAuthorizer(std::shared_ptr<const Authorizer> inner) {
  return std::make_shared<AuditModeAuthorizer>(std::move(inner));
}

std::string_view DenyReasonName(DenyReason reason) {
  switch (reason) {
    case DenyReason::kNone:
      return "none";
    case DenyReason::kNoRule:
      return "no_rule";
    case DenyReason::kDenyRule:
      return "deny_rule";
    case DenyReason::kQosLimit:
      return "qos_limit";
    case DenyReason::kRetainLimit:
      return "retain_limit";
  }
  return "unknown";
}

std::shared_ptr<const Authorizer> MakeAllowAllAuthorizer() {
  return std::make_shared<AllowAllAuthorizer>();
}

}  // namespace moat::policy
