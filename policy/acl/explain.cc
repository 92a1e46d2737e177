#include "policy/acl/explain.h"

#include "policy/acl/topic_match.h"

namespace moat::policy {

std::optional<ExplainAction> ParseExplainAction(std::string_view word) {
  if (word == "publish") return ExplainAction::kPublish;
  if (word == "subscribe") return ExplainAction::kSubscribe;
  return std::nullopt;
}

int RunPolicyExplain(const Authorizer& authorizer, const ExplainRequest& request, std::ostream& out,
                     std::ostream& err) {
  Decision decision;
  if (request.action == ExplainAction::kPublish) {
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
  if (decision.allowed()) {
    out << "allow";
    if (!decision.rule.empty()) out << " " << decision.rule;
    out << "\n";
    return kExplainAllow;
  }
  out << "deny";
  if (decision.rule.empty()) {
    out << " (" << DenyReasonName(decision.reason);
    if (decision.reason == DenyReason::kNoRule) out << ": nothing grants it";
    out << ")\n";
  } else {
    out << " " << decision.rule << " (" << DenyReasonName(decision.reason) << ")\n";
  }
  return kExplainDeny;
}

}  // namespace moat::policy
