#include "policy/acl/explain.h"

#include <string>

#include "policy/acl/topic_match.h"

namespace moat::policy {
namespace {

// "FILE:LINE" for an acl_file line, "rule ID at FILE:LINE" for a native rule.
std::string Named(const Authorizer& authorizer, std::string_view rule) {
  const std::string_view location = authorizer.RuleLocation(rule);
  if (location.empty()) return std::string(rule);
  return "rule " + std::string(rule) + " at " + std::string(location);
}

// What a granted filter does not get: a lower QoS, and what is withheld at delivery.
std::string SubscriptionNotes(const Authorizer& authorizer, const ExplainRequest& request,
                              const Decision& decision) {
  std::string notes;
  if (decision.max_qos < request.qos) {
    notes += " (granted at QoS " + std::to_string(decision.max_qos) + ")";
  }
  if (!decision.partial) return notes;
  const Decision deny = authorizer.DenyInside(request.client, request.topic);
  notes +=
      deny.rule.empty()
          ? " (partial: topics it matches that nothing grants are withheld at delivery)"
          : " (partial: " + Named(authorizer, deny.rule) + " withholds what it denies at delivery)";
  return notes;
}

// The largest payload a granted PUBLISH may carry, and the rule that sets it when that
// is not the rule the line already names.
std::string PayloadNote(const Authorizer& authorizer, const Decision& decision) {
  if (decision.max_payload == kNoPayloadLimit) return {};
  std::string note = " (max_payload " + std::to_string(decision.max_payload) + " bytes";
  if (decision.payload_rule != decision.rule || decision.audit) {
    note += ": " + Named(authorizer, decision.payload_rule);
  }
  if (decision.payload_audit) note += ", audit: a larger one is reported, not refused";
  return note + ")";
}

// The format a granted PUBLISH payload must be; the rule the line names requires it.
std::string FormatNote(const Decision& decision) {
  if (decision.payload_format == PayloadFormat::kAny) return {};
  std::string note = " (payload " + std::string(PayloadFormatName(decision.payload_format));
  if (decision.format_audit) note += ", audit: another payload is reported, not refused";
  return note + ")";
}

}  // namespace

std::optional<Action> ParseExplainAction(std::string_view word) {
  if (word == "publish") return Action::kPublish;
  if (word == "subscribe") return Action::kSubscribe;
  return std::nullopt;
}

int RunPolicyExplain(const Authorizer& authorizer, const ExplainRequest& request, std::ostream& out,
                     std::ostream& err) {
  Decision decision;
  if (request.action == Action::kPublish) {
    if (!IsValidTopicName(request.topic)) {
      err << "moat policy explain: '" << request.topic
          << "' is not a topic name one can publish to (empty, or holding '+', '#' or NUL)\n";
      return kExplainBadInput;
    }
    decision = authorizer.MayPublish(request.client, request.topic, request.qos, request.retain);
  } else {
    const std::string_view problem = FilterProblem(InnerFilter(request.topic));
    if (!problem.empty()) {
      err << "moat policy explain: '" << request.topic << "' is not a valid topic filter: "
          << (InnerFilter(request.topic).empty() ? "malformed shared subscription" : problem)
          << "\n";
      return kExplainBadInput;
    }
    decision = authorizer.MaySubscribe(request.client, request.topic, request.qos);
  }
  const std::string rule = Named(authorizer, decision.rule);
  if (decision.allowed() && !decision.audit) {
    out << "allow";
    if (!rule.empty()) out << " " << rule;
    if (request.action == Action::kSubscribe) {
      out << SubscriptionNotes(authorizer, request, decision);
    } else {
      out << PayloadNote(authorizer, decision) << FormatNote(decision);
    }
    out << "\n";
    return kExplainAllow;
  }
  std::string why(DenyReasonName(decision.reason));
  if (decision.reason == DenyReason::kNoRule) why += ": nothing grants it";
  if (!decision.allowed()) {
    out << "deny " << (rule.empty() ? "" : rule + " ") << "(" << why << ")\n";
    return kExplainDeny;
  }
  // An audit-mode allow is an allow (exit 0): the request gets through. The line says
  // what enforcement would have done.
  out << "allow (audit: would be denied" << (rule.empty() ? "" : " by " + rule) << ", " << why
      << ")";
  if (request.action == Action::kPublish) {
    out << PayloadNote(authorizer, decision) << FormatNote(decision);
  }
  out << "\n";
  return kExplainAllow;
}

}  // namespace moat::policy
