#include "proxy/session/session_report.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <optional>

#include "proxy/log.h"

namespace moat::proxy {

namespace asio = boost::asio;
using policy::AuthFailure;

namespace {

struct AuthFailureLabels {
  metrics::ConnectResult result;
  std::optional<policy::DenyReason> denial;  // nullopt: load, not a denial
};

// The setting a refusal by a session quota exceeded, for its audit line; empty for the
// policy's own reasons, which name their rule instead.
std::string_view QuotaSetting(policy::DenyReason reason) {
  switch (reason) {
    case policy::DenyReason::kTopicLength:
      return "limits.max_topic_length";
    case policy::DenyReason::kTopicLevels:
      return "limits.max_topic_levels";
    case policy::DenyReason::kSubscriptionLimit:
      return "limits.max_subscriptions";
    case policy::DenyReason::kSubscribeFilters:
      return "limits.max_filters_per_subscribe";
    case policy::DenyReason::kInflightLimit:
      return "limits.max_inflight";
    case policy::DenyReason::kPayloadLimit:
      return "max_payload";
    case policy::DenyReason::kPayloadFormat:
      return "payload";
    default:
      return {};
  }
}

AuthFailureLabels LabelsFor(AuthFailure failure) {
  using metrics::ConnectResult;
  using policy::DenyReason;
  switch (failure) {
    case AuthFailure::kBadCredentials:
    case AuthFailure::kCertificateUserMismatch:
    case AuthFailure::kBadToken:
      return {ConnectResult::kBadCredentials, DenyReason::kBadCredentials};
    case AuthFailure::kBanned:
      return {ConnectResult::kBanned, DenyReason::kBanned};
    case AuthFailure::kBusy:
      return {ConnectResult::kServerBusy, std::nullopt};
    case AuthFailure::kAnonymousRefused:
    case AuthFailure::kCertificateRequired:
    case AuthFailure::kClientIdRejected:
    case AuthFailure::kUnsupportedAuthMethod:
    case AuthFailure::kNone:
      break;
  }
  return {ConnectResult::kNotAuthorized, DenyReason::kNotAuthenticated};
}

metrics::UpstreamErrorReason UpstreamErrorReasonFor(const boost::system::error_code& ec) {
  if (ec == asio::error::connection_refused) return metrics::UpstreamErrorReason::kRefused;
  if (ec == asio::error::timed_out) return metrics::UpstreamErrorReason::kTimeout;
  // Every source address out of ports towards the broker (upstream.source_addresses).
  if (ec == boost::system::errc::address_not_available ||
      ec == boost::system::errc::address_in_use) {
    return metrics::UpstreamErrorReason::kSourceAddress;
  }
  if (ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again) {
    return metrics::UpstreamErrorReason::kDns;
  }
  if (ec.category() == asio::error::get_ssl_category()) return metrics::UpstreamErrorReason::kTls;
  return metrics::UpstreamErrorReason::kOther;
}

}  // namespace

std::string_view MqttVersionName(mqtt::ProtocolVersion version) {
  switch (version) {
    case mqtt::ProtocolVersion::kV31:
      return "3.1";
    case mqtt::ProtocolVersion::kV311:
      return "3.1.1";
    case mqtt::ProtocolVersion::kV5:
      return "5";
    case mqtt::ProtocolVersion::kUnknown:
      break;
  }
  return {};
}

SessionReport::SessionReport(metrics::ThreadCounters& counters, metrics::ListenerId listener,
                             const policy::ClientIdentity& identity)
    : counters_(counters), listener_(listener), identity_(identity) {
  counters_.GaugeAdd<metrics::Metric::kConnectionsActive>(listener_, 1);
}

SessionReport::~SessionReport() {
  counters_.GaugeAdd<metrics::Metric::kConnectionsActive>(listener_, -1);
}

void SessionReport::Connect(metrics::ConnectResult result) {
  counters_.Add<metrics::Metric::kConnectTotal>(result);
}

void SessionReport::Admitted(const AdmittedClient& client, SteadyTime now) {
  admitted_ = now;
  Audit({.event = "session_admitted",
         .auth = policy::AuthMethodName(client.auth),
         .cert_fingerprint = client.cert_fingerprint,
         .tls_version = client.tls.version,
         .tls_cipher = client.tls.cipher,
         .mqtt_version = MqttVersionName(client.version)});
}

void SessionReport::ConnectionRefused(metrics::ConnectionRefusal refusal) {
  counters_.Add<metrics::Metric::kConnectionsRefusedTotal>(listener_, refusal);
  Audit({.event = "refused_connection",
         .reason = metrics::ClosedDomainValues(
             metrics::Domain::kConnectionRefusal)[static_cast<size_t>(refusal)]});
}

void SessionReport::AuthFailure(policy::AuthFailure failure) {
  if (failure == AuthFailure::kNone) return;
  const AuthFailureLabels labels = LabelsFor(failure);
  Connect(labels.result);
  if (labels.denial) {
    counters_.Add<metrics::Metric::kDenialsTotal>(policy::Action::kConnect, *labels.denial,
                                                  metrics::DenyMode::kEnforce,
                                                  metrics::kNoRuleLabel);
  }
  Audit({.event = "refused_connect",
         .reason = policy::AuthFailureName(failure),
         .detail = failure == AuthFailure::kBadToken ? token_refusal_ : std::string_view()});
}

void SessionReport::TokenRefused(policy::TokenRefusal refusal, std::string_view detail) {
  counters_.Add<metrics::Metric::kTokenRefusalsTotal>(refusal);
  token_refusal_ = std::string(policy::TokenRefusalName(refusal)) + ": " + std::string(detail);
}

void SessionReport::NotAuthorized(const policy::Decision& decision) {
  Connect(metrics::ConnectResult::kNotAuthorized);
  Audit({.event = "refused_connect", .reason = "not_authorized", .rule = decision.rule});
}

void SessionReport::UpstreamUnavailable(const boost::system::error_code& error) {
  Connect(metrics::ConnectResult::kUpstreamUnavailable);
  counters_.Add<metrics::Metric::kUpstreamErrorsTotal>(UpstreamErrorReasonFor(error));
  Audit({.event = "refused_connect", .reason = "upstream_unavailable", .detail = error.message()});
}

void SessionReport::Malformed(mqtt::Direction from, mqtt::DecodeError error) {
  counters_.Add<metrics::Metric::kMalformedPacketsTotal>(from, error);
  Audit({.event = "malformed",
         .reason = mqtt::DecodeErrorName(error),
         .detail = from == mqtt::Direction::kClientToServer ? "from client" : "from broker"});
}

void SessionReport::Denials(std::span<const Denial> denials) {
  for (const Denial& denial : denials) {
    counters_.Add<metrics::Metric::kDenialsTotal>(
        denial.action, denial.reason,
        denial.audit ? metrics::DenyMode::kAudit : metrics::DenyMode::kEnforce,
        metrics::RuleLabel{denial.rule_label});
    Audit({.event = "denial",
           .reason = policy::DenyReasonName(denial.reason),
           .rule = denial.rule,
           .topic = denial.topic,
           .action = policy::ActionName(denial.action),
           .mode = denial.audit ? "audit" : "enforce",
           .detail = QuotaSetting(denial.reason)});
  }
}

void SessionReport::RateExceeded(const ClientRate::Hold& hold, bool throttled) {
  counters_.Add<metrics::Metric::kDenialsTotal>(
      policy::Action::kPublish, hold.reason,
      throttled ? metrics::DenyMode::kThrottle : metrics::DenyMode::kEnforce,
      metrics::RuleLabel{hold.rate->rule_label});
  if (AuditLog::Get() == nullptr) return;  // spares the text below
  const bool messages = hold.reason == policy::DenyReason::kMessageRate;
  const std::string limit =
      absl::StrCat(hold.rate->rule.empty() ? "limits." : "",
                   messages ? "messages_per_second " : "bytes_per_second ",
                   hold.rate->rate.per_second, ", burst ", hold.rate->rate.burst);
  Audit({.event = "rate_limited",
         .reason = policy::DenyReasonName(hold.reason),
         .rule = hold.rate->rule,
         .action = "publish",
         .mode = throttled ? "throttle" : "enforce",
         .detail = limit});
}

void SessionReport::Audit(AuditEvent event) const {
  AuditLog* log = AuditLog::Get();
  if (log == nullptr) return;
  event.identity = identity_.username;
  event.client_id = identity_.client_id;
  event.address = identity_.address;
  event.listener = identity_.listener;
  log->Write(event);
}

void SessionReport::Ended(EndReason reason, std::string_view detail, SteadyTime now) const {
  counters_.Add<metrics::Metric::kSessionsEndedTotal>(listener_, reason);
  if (admitted_) {
    using Direction = mqtt::Direction;
    const Totals& from_client = totals_[static_cast<size_t>(Direction::kClientToServer)];
    const Totals& from_broker = totals_[static_cast<size_t>(Direction::kServerToClient)];
    const SessionTotals totals{
        .duration_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *admitted_).count(),
        .messages_from_client = from_client.messages,
        .messages_from_broker = from_broker.messages,
        .bytes_from_client = from_client.bytes,
        .bytes_from_broker = from_broker.bytes};
    Audit({.event = "session_ended",
           .reason = EndReasonName(reason),
           .detail = detail,
           .totals = &totals});
  }
  if (IsOrdinaryEnd(reason)) return;
  LogSessionEnd(identity_, EndReasonName(reason), detail);
}

}  // namespace moat::proxy
