#include "metrics/metric_table.h"

#include <vector>

namespace moat::metrics {

namespace {

#define MOAT_METRICS_VALUE(id, value) value,
constexpr std::string_view kDirectionValues[] = {"client_to_broker", "broker_to_client"};
constexpr std::string_view kTlsFailureReasonValues[] = {
    MOAT_TLS_FAILURE_REASONS(MOAT_METRICS_VALUE)};
constexpr std::string_view kConnectResultValues[] = {MOAT_CONNECT_RESULTS(MOAT_METRICS_VALUE)};
constexpr std::string_view kSessionEndValues[] = {MOAT_SESSION_ENDS(MOAT_METRICS_VALUE)};
constexpr std::string_view kConnectionRefusalValues[] = {
    MOAT_CONNECTION_REFUSALS(MOAT_METRICS_VALUE)};
constexpr std::string_view kDenyActionValues[] = {MOAT_POLICY_ACTIONS(MOAT_METRICS_VALUE)};
constexpr std::string_view kDenyReasonValues[] = {MOAT_DENY_REASONS(MOAT_METRICS_VALUE)};
constexpr std::string_view kDenyModeValues[] = {MOAT_DENY_MODES(MOAT_METRICS_VALUE)};
constexpr std::string_view kUpstreamErrorReasonValues[] = {
    MOAT_UPSTREAM_ERROR_REASONS(MOAT_METRICS_VALUE)};
constexpr std::string_view kReloadResultValues[] = {MOAT_RELOAD_RESULTS(MOAT_METRICS_VALUE)};
constexpr std::string_view kAuditSinkValues[] = {MOAT_AUDIT_SINKS(MOAT_METRICS_VALUE)};
constexpr std::string_view kTokenRefusalValues[] = {MOAT_TOKEN_REFUSALS(MOAT_METRICS_VALUE)};
constexpr std::string_view kAdminOutcomeValues[] = {MOAT_ADMIN_OUTCOMES(MOAT_METRICS_VALUE)};
#undef MOAT_METRICS_VALUE

static_assert(static_cast<uint32_t>(mqtt::Direction::kClientToServer) == 0 &&
              static_cast<uint32_t>(mqtt::Direction::kServerToClient) == 1);

// The codec's names are the label values, so a new DecodeError or packet type shows up
// in the metrics without an edit here. The views point at string literals.
const std::vector<std::string_view>& PacketTypeValues() {
  static const auto* const values = [] {
    auto* list = new std::vector<std::string_view>;
    for (uint32_t i = 0; i < ClosedDomainSize(Domain::kPacketType); ++i) {
      list->push_back(mqtt::PacketTypeName(static_cast<mqtt::PacketType>(i + 1)));
    }
    return list;
  }();
  return *values;
}

const std::vector<std::string_view>& DecodeErrorValues() {
  static const auto* const values = [] {
    auto* list = new std::vector<std::string_view>;
    for (uint32_t i = 0; i < ClosedDomainSize(Domain::kDecodeError); ++i) {
      list->push_back(mqtt::DecodeErrorName(static_cast<mqtt::DecodeError>(i + 1)));
    }
    return list;
  }();
  return *values;
}

void AppendLabels(const MetricDef& def, std::string& out) {
  if (def.labels.size == 0) {
    out += "-";
    return;
  }
  bool first_label = true;
  for (const LabelDef& label : def.labels) {
    if (!first_label) out += "; ";
    first_label = false;
    out += "`";
    out += label.name;
    out += "`: ";
    if (!IsClosed(label.domain)) {
      out += DomainDescription(label.domain);
      continue;
    }
    bool first_value = true;
    for (std::string_view value : ClosedDomainValues(label.domain)) {
      if (!first_value) out += ", ";
      first_value = false;
      out += value;
    }
  }
}

}  // namespace

std::span<const std::string_view> ClosedDomainValues(Domain domain) {
  switch (domain) {
    case Domain::kDirection:
      return kDirectionValues;
    case Domain::kPacketType:
      return PacketTypeValues();
    case Domain::kDecodeError:
      return DecodeErrorValues();
    case Domain::kTlsFailureReason:
      return kTlsFailureReasonValues;
    case Domain::kConnectResult:
      return kConnectResultValues;
    case Domain::kConnectionRefusal:
      return kConnectionRefusalValues;
    case Domain::kSessionEnd:
      return kSessionEndValues;
    case Domain::kDenyAction:
      return kDenyActionValues;
    case Domain::kDenyReason:
      return kDenyReasonValues;
    case Domain::kDenyMode:
      return kDenyModeValues;
    case Domain::kUpstreamErrorReason:
      return kUpstreamErrorReasonValues;
    case Domain::kReloadResult:
      return kReloadResultValues;
    case Domain::kAuditSink:
      return kAuditSinkValues;
    case Domain::kTokenRefusal:
      return kTokenRefusalValues;
    case Domain::kAdminOutcome:
      return kAdminOutcomeValues;
    case Domain::kListener:
    case Domain::kCertificateFile:
    case Domain::kCrlFile:
    case Domain::kUpstreamServer:
    case Domain::kVersion:
    case Domain::kOpenssl:
    case Domain::kPolicyHash:
    case Domain::kRule:
      return {};
  }
  return {};
}

std::string_view DomainDescription(Domain domain) {
  switch (domain) {
    case Domain::kListener:
      return "the configured listener names";
    case Domain::kCertificateFile:
      return "the configured certificate paths";
    case Domain::kCrlFile:
      return "the configured CRL paths (listeners' and metrics.tls crl_file)";
    case Domain::kUpstreamServer:
      return "the configured upstream servers (upstream.servers or upstream.address)";
    case Domain::kVersion:
      return "the moat version";
    case Domain::kOpenssl:
      return "the OpenSSL version";
    case Domain::kPolicyHash:
      return "SHA-256 (hex) of the acl_file, policy file and password file in force, as "
             "loaded";
    case Domain::kRule:
      return "the native policy's id of the deciding rule (the first 256 distinct ids that "
             "can refuse), or default (no rule: default deny, authentication, bans, limits), "
             "acl_file "
             "(any acl_file line), reserved_topic ($SYS or $share publish), other";
    default:
      return "";
  }
}

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string RenderMetricTableMarkdown() {
  std::string out = "| name | type | labels | help |\n| --- | --- | --- | --- |\n";
  for (const MetricDef& def : kMetricTable) {
    out += "| `";
    out += def.name;
    out += "` | ";
    out += MetricTypeName(def.type);
    out += " | ";
    AppendLabels(def, out);
    out += " | ";
    out += def.help;
    out += " |\n";
  }
  return out;
}

}  // namespace moat::metrics
