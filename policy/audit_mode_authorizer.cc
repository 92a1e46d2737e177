#include "policy/authorizer.h"

namespace moat::policy {
namespace {

class AuditModeAuthorizer final : public Authorizer {
 public:
  explicit AuditModeAuthorizer(std::shared_ptr<const Authorizer> inner)
      : inner_(std::move(inner)) {}

  Decision AuthorizeConnect(const ClientIdentity& client) const override {
    return Soften(inner_->AuthorizeConnect(client));
  }
  Decision MayPublish(const ClientIdentity& client, std::string_view topic, uint8_t qos,
                      bool retain) const override {
    Decision decision = Soften(inner_->MayPublish(client, topic, qos, retain));
    // A payload over max_payload or not of the rule's format is let through and
    // reported, as every denial is.
    decision.payload_audit = true;
    decision.format_audit = true;
    return decision;
  }
  Decision MaySubscribe(const ClientIdentity& client, std::string_view filter,
                        uint8_t qos) const override {
    Decision decision = Soften(inner_->MaySubscribe(client, filter, qos));
    // A lower QoS would be enforcement too: granted as asked, reported as the limit.
    if (decision.max_qos < qos) {
      if (!decision.audit) decision.reason = DenyReason::kQosLimit;
      decision.max_qos = qos;
      decision.audit = true;
    }
    return decision;
  }
  Decision DenyInside(const ClientIdentity& client, std::string_view filter) const override {
    return inner_->DenyInside(client, filter);
  }
  Decision MayReceive(const ClientIdentity& client, std::string_view topic) const override {
    return Soften(inner_->MayReceive(client, topic));
  }
  // Rates are limits, not grants: policy.mode: audit leaves them in force.
  RateOverrides RatesFor(const ClientIdentity& client) const override {
    return inner_->RatesFor(client);
  }
  // Audit mode refuses nothing, so no reload ends a session because a name left it.
  bool NamesIdentity(const ClientIdentity& client) const override {
    (void)client;
    return false;
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

}  // namespace moat::policy
