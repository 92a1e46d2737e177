// The one table of every metric moat exports: name, type, help, labels and, for each
// label, the closed set of values it can take. Code never names a metric by string: it
// passes a `Metric` and label values of the enum types below to ThreadCounters (hot
// path) or MetricsRegistry (control plane), which check at compile time that the metric
// has that type and those labels. A client can therefore never mint a series: every
// label value comes from an enum here, from the config (listener names, file paths) or
// from the policy file's rule ids, at most kRuleLabelCount of them.
//
//   kMetricTable ──> MetricsRegistry::Create(label values from config)
//                     │ Layout: a flat slot array, one slot per series (and bucket)
//                     ├──> ThreadCounters (one per worker; plain stores, no lock)
//                     └──> Collect(): global + Σ threads ──> prometheus::MetricFamily
//                                                              ──> text 0.0.4 / OpenMetrics
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "policy/denial.h"
#include "policy/token/token_refusal.h"
#include "proxy/mqtt/decode_error.h"
#include "proxy/mqtt/types.h"

namespace moat::metrics {

// ---------------------------------------------------------------------------------------
// Label value enums. Each list expands into an enum and its label values in one place, so
// the two cannot drift apart (Envoy's stats macros do the same).

#define MOAT_TLS_FAILURE_REASONS(X)                  \
  X(kNoSharedCipher, "no_shared_cipher")             \
  X(kBadClientCertificate, "bad_client_certificate") \
  X(kExpired, "expired")                             \
  X(kUnknownCa, "unknown_ca")                        \
  X(kRevoked, "revoked")                             \
  X(kCrlUnavailable, "crl_unavailable")              \
  X(kTimeout, "timeout")                             \
  X(kOther, "other")

// Connections closed before MQTT, at accept or while the PROXY header, TLS handshake or
// WebSocket upgrade was under way (TLS failures have their own metric).
#define MOAT_CONNECTION_REFUSALS(X)                                                        \
  X(kMaxConnections, "max_connections")         /* limits.max_connections reached */       \
  X(kAddressConnections, "address_connections") /* per-address open connections */         \
  X(kAddressRate, "address_rate")               /* per-address new connections a second */ \
  X(kBanned, "banned")                          /* the address is banned */                \
  X(kProxyHeader, "proxy_header")               /* a bad PROXY protocol header */          \
  X(kProxyUntrusted, "proxy_untrusted")         /* PROXY header from outside _from */      \
  X(kWebSocketUpgrade, "websocket_upgrade")     /* not a valid MQTT WebSocket upgrade */   \
  X(kWebSocketOrigin, "websocket_origin")       /* an Origin the listener does not list */ \
  X(kPreauthMemory, "preauth_memory")           /* pre-login memory budget spent */        \
  X(kSetupTimeout, "setup_timeout")             /* PROXY/TLS/WebSocket not done in time */

// Why a session ended, as its log line says (proxy/session/end_reason.h). Every
// connection that got past the PROXY header, TLS and WebSocket upgrade ends with one.
#define MOAT_SESSION_ENDS(X)                                                                 \
  X(kClientDisconnected, "client_disconnected") /* DISCONNECT from the client */             \
  X(kClientClosed, "client_closed")             /* the client vanished without DISCONNECT */ \
  X(kBrokerClosed, "broker_closed")                                                          \
  X(kConnectTimeout, "connect_timeout")                                                      \
  X(kKeepAliveTimeout, "keep_alive_timeout")                                                 \
  X(kMalformedFromClient, "malformed_from_client")                                           \
  X(kMalformedFromBroker, "malformed_from_broker")                                           \
  X(kUpstreamUnavailable, "upstream_unavailable")                                            \
  X(kRefused, "refused")                                                                     \
  X(kRevoked, "revoked")            /* the password file no longer vouches for the client */ \
  X(kTokenExpired, "token_expired") /* the bearer token it logged in with expired */         \
  X(kShutdown, "shutdown")                                                                   \
  X(kAdmin, "admin")                  /* kicked, or banned, through the admin API */         \
  X(kPreauthMemory, "preauth_memory") /* closed to keep limits.max_preauth_memory */         \
  X(kWriteTimeout, "write_timeout")   /* a peer took nothing for limits.write_timeout */     \
  X(kIoError, "io_error")

#define MOAT_CONNECT_RESULTS(X)                   \
  X(kAccepted, "accepted")                        \
  X(kBadCredentials, "bad_credentials")           \
  X(kNotAuthorized, "not_authorized")             \
  X(kBanned, "banned")                            \
  X(kUpstreamUnavailable, "upstream_unavailable") \
  X(kMalformed, "malformed")                      \
  X(kTimeout, "timeout")                          \
  X(kServerBusy, "server_busy") /* the password hashing queue is full */

// moat_denials_total's `action` and `reason` are policy::Action and policy::DenyReason
// (policy/denial.h), named there once.

// policy.mode: "audit" counts what would have been denied, and lets it through.
// throttle: a client over its rate was held back (read from later), not refused.
#define MOAT_DENY_MODES(X) \
  X(kEnforce, "enforce")   \
  X(kAudit, "audit")       \
  X(kThrottle, "throttle")

#define MOAT_UPSTREAM_ERROR_REASONS(X) \
  X(kRefused, "refused")               \
  X(kTimeout, "timeout")               \
  X(kTls, "tls")                       \
  X(kDns, "dns")                       \
  X(kSourceAddress, "source_address")  \
  X(kOther, "other")

#define MOAT_RELOAD_RESULTS(X) \
  X(kSuccess, "success")       \
  X(kFailure, "failure")

// Where an audit line could not go: the file (a write error, e.g. a full disk) or the
// syslog socket (missing, or full because the collector does not keep up).
#define MOAT_AUDIT_SINKS(X) \
  X(kFile, "file")          \
  X(kSyslog, "syslog")

// How the admin API answered a request; a connection past admin.max_connections or
// admin.request_timeout is counted too, though it got no answer.
#define MOAT_ADMIN_OUTCOMES(X)                                                   \
  X(kOk, "ok")                                                                   \
  X(kUnauthorized, "unauthorized")        /* no credentials: 401 */              \
  X(kForbidden, "forbidden")              /* wrong credentials: 403 */           \
  X(kBadRequest, "bad_request")           /* unparsable, or a bad field: 400 */  \
  X(kNotFound, "not_found")               /* no such endpoint, ban or session */ \
  X(kBodyTooLarge, "body_too_large")      /* over admin.max_body_bytes: 413 */   \
  X(kBanLimit, "ban_limit")               /* admin.max_bans in force: 507 */     \
  X(kConnectionLimit, "connection_limit") /* admin.max_connections open */       \
  X(kTimeout, "timeout")                  /* admin.request_timeout passed */     \
  X(kError, "error")                      /* the state file, or the workers */

#define MOAT_METRICS_ENUMERATOR(id, value) id,
enum class TlsFailureReason : uint8_t { MOAT_TLS_FAILURE_REASONS(MOAT_METRICS_ENUMERATOR) };
enum class ConnectResult : uint8_t { MOAT_CONNECT_RESULTS(MOAT_METRICS_ENUMERATOR) };
enum class ConnectionRefusal : uint8_t { MOAT_CONNECTION_REFUSALS(MOAT_METRICS_ENUMERATOR) };
enum class SessionEnd : uint8_t { MOAT_SESSION_ENDS(MOAT_METRICS_ENUMERATOR) };
enum class DenyMode : uint8_t { MOAT_DENY_MODES(MOAT_METRICS_ENUMERATOR) };
enum class UpstreamErrorReason : uint8_t { MOAT_UPSTREAM_ERROR_REASONS(MOAT_METRICS_ENUMERATOR) };
enum class ReloadResult : uint8_t { MOAT_RELOAD_RESULTS(MOAT_METRICS_ENUMERATOR) };
enum class AuditSink : uint8_t { MOAT_AUDIT_SINKS(MOAT_METRICS_ENUMERATOR) };
enum class AdminOutcome : uint8_t { MOAT_ADMIN_OUTCOMES(MOAT_METRICS_ENUMERATOR) };
#undef MOAT_METRICS_ENUMERATOR

// Values bounded by the config rather than by an enum: the index into the list given
// to MetricsRegistry::Create (listeners in config order, certificate files as listed).
struct ListenerId {
  uint32_t index;
};
struct CertificateFileId {
  uint32_t index;
};
struct CrlFileId {
  uint32_t index;
};
// upstream.servers (or upstream.address) in config order.
struct UpstreamServerId {
  uint32_t index;
};
// The rule that decided a denial: a number the policy gave the rule when it was loaded
// (policy::RuleLabels). Bounded: there are kRuleLabelCount of them, whatever the policy
// holds, and the names are known only at runtime (RegistryOptions::rule_labels).
struct RuleLabel {
  uint16_t index;
};
// policy::RuleLabels::kCount: four fixed values and 256 rule ids (checked where both are
// known, in proxy/observability.cc).
inline constexpr uint32_t kRuleLabelCount = 4 + 256;
// Value 0 of the rule domain: no rule decided.
inline constexpr RuleLabel kNoRuleLabel{0};
inline constexpr std::string_view kNoRuleLabelName = "default";

// The value set a label draws from.
enum class Domain : uint8_t {
  // Closed enums.
  kDirection,            // mqtt::Direction: client_to_broker | broker_to_client
  kPacketType,           // mqtt::PacketType (not kReserved): PacketTypeName
  kDecodeError,          // mqtt::DecodeError (not kNone): DecodeErrorName
  kTlsFailureReason,     // TlsFailureReason
  kConnectResult,        // ConnectResult
  kConnectionRefusal,    // ConnectionRefusal
  kSessionEnd,           // SessionEnd
  kDenyAction,           // policy::Action: ActionName
  kDenyReason,           // policy::DenyReason (not kNone): DenyReasonName
  kDenyMode,             // DenyMode
  kUpstreamErrorReason,  // UpstreamErrorReason
  kReloadResult,         // ReloadResult
  kAuditSink,            // AuditSink
  kTokenRefusal,         // policy::TokenRefusal (not kNone): TokenRefusalName
  kAdminOutcome,         // AdminOutcome
  // Bounded by the config or the build; the values are given to MetricsRegistry::Create.
  kListener,         // ListenerId: configured listener names
  kCertificateFile,  // CertificateFileId: configured certificate paths
  kCrlFile,          // CrlFileId: configured CRL paths
  kUpstreamServer,   // UpstreamServerId: configured upstream servers (host:port)
  kVersion,          // the moat version (one value; moat_build_info only)
  kOpenssl,          // the OpenSSL version (one value; moat_build_info only)
  kPolicyHash,       // one value, replaced on every load: moat_policy_info only
  // kRuleLabelCount values whose names change when a policy is loaded.
  kRule,  // RuleLabel: default, acl_file, reserved_topic, other, native rule ids
};
inline constexpr size_t kDomainCount = static_cast<size_t>(Domain::kRule) + 1;

constexpr bool IsClosed(Domain domain) { return domain < Domain::kListener; }

// A sparse domain's value 0 is exported with every combination of the other labels, as
// closed sets are, but its other values only once their series has counted something:
// 260 rule values would otherwise add 18,200 series of zeros to every scrape.
constexpr bool IsSparse(Domain domain) { return domain == Domain::kRule; }

// The number of values of a closed domain (0 for the others, known only at runtime).
constexpr uint32_t ClosedDomainSize(Domain domain) {
#define MOAT_METRICS_COUNT(id, value) +1
  switch (domain) {
    case Domain::kDirection:
      return 2;
    case Domain::kPacketType:
      return static_cast<uint32_t>(mqtt::PacketType::kAuth);  // 1..15
    case Domain::kDecodeError:
      // The last enumerator of mqtt::DecodeError; metric_table_test checks that the
      // codec has no name past it.
      return static_cast<uint32_t>(mqtt::DecodeError::kInvalidTopicAlias);  // 1..N
    case Domain::kTlsFailureReason:
      return 0 MOAT_TLS_FAILURE_REASONS(MOAT_METRICS_COUNT);
    case Domain::kConnectResult:
      return 0 MOAT_CONNECT_RESULTS(MOAT_METRICS_COUNT);
    case Domain::kConnectionRefusal:
      return 0 MOAT_CONNECTION_REFUSALS(MOAT_METRICS_COUNT);
    case Domain::kSessionEnd:
      return 0 MOAT_SESSION_ENDS(MOAT_METRICS_COUNT);
    case Domain::kDenyAction:
      return 0 MOAT_POLICY_ACTIONS(MOAT_METRICS_COUNT);
    case Domain::kDenyReason:
      return 0 MOAT_DENY_REASONS(MOAT_METRICS_COUNT);
    case Domain::kDenyMode:
      return 0 MOAT_DENY_MODES(MOAT_METRICS_COUNT);
    case Domain::kUpstreamErrorReason:
      return 0 MOAT_UPSTREAM_ERROR_REASONS(MOAT_METRICS_COUNT);
    case Domain::kReloadResult:
      return 0 MOAT_RELOAD_RESULTS(MOAT_METRICS_COUNT);
    case Domain::kAuditSink:
      return 0 MOAT_AUDIT_SINKS(MOAT_METRICS_COUNT);
    case Domain::kTokenRefusal:
      return 0 MOAT_TOKEN_REFUSALS(MOAT_METRICS_COUNT);
    case Domain::kAdminOutcome:
      return 0 MOAT_ADMIN_OUTCOMES(MOAT_METRICS_COUNT);
    default:
      return 0;
  }
#undef MOAT_METRICS_COUNT
}

// The label values of a closed domain, in index order; empty for the other domains.
std::span<const std::string_view> ClosedDomainValues(Domain domain);

// What a label is called in the table's markdown rendering for a non-closed domain.
std::string_view DomainDescription(Domain domain);

// Maps a C++ label value to its domain and its index in that domain. An index out of
// range (mqtt::PacketType::kReserved, mqtt::DecodeError::kNone, a bad ListenerId) is
// counted nowhere.
template <typename T>
struct LabelTraits;

template <typename T>
concept LabelType = requires(T value) {
  { LabelTraits<T>::kDomain } -> std::convertible_to<Domain>;
  { LabelTraits<T>::Index(value) } -> std::convertible_to<uint32_t>;
};

// A closed enum label: its values in order, the first `kSkipped` (kReserved, kNone)
// counted nowhere.
template <Domain D, typename Enum, uint32_t kSkipped = 0>
struct EnumLabel {
  static constexpr Domain kDomain = D;
  static constexpr uint32_t Index(Enum v) { return static_cast<uint32_t>(v) - kSkipped; }
};
template <>
struct LabelTraits<mqtt::Direction> : EnumLabel<Domain::kDirection, mqtt::Direction> {};
template <>
struct LabelTraits<mqtt::PacketType> : EnumLabel<Domain::kPacketType, mqtt::PacketType, 1> {};
template <>
struct LabelTraits<mqtt::DecodeError> : EnumLabel<Domain::kDecodeError, mqtt::DecodeError, 1> {};
template <>
struct LabelTraits<policy::Action> : EnumLabel<Domain::kDenyAction, policy::Action> {};
template <>
struct LabelTraits<policy::DenyReason> : EnumLabel<Domain::kDenyReason, policy::DenyReason, 1> {};
template <>
struct LabelTraits<TlsFailureReason> : EnumLabel<Domain::kTlsFailureReason, TlsFailureReason> {};
template <>
struct LabelTraits<ConnectResult> : EnumLabel<Domain::kConnectResult, ConnectResult> {};
template <>
struct LabelTraits<SessionEnd> : EnumLabel<Domain::kSessionEnd, SessionEnd> {};
template <>
struct LabelTraits<ConnectionRefusal> : EnumLabel<Domain::kConnectionRefusal, ConnectionRefusal> {};
template <>
struct LabelTraits<DenyMode> : EnumLabel<Domain::kDenyMode, DenyMode> {};
template <>
struct LabelTraits<UpstreamErrorReason>
    : EnumLabel<Domain::kUpstreamErrorReason, UpstreamErrorReason> {};
template <>
struct LabelTraits<ReloadResult> : EnumLabel<Domain::kReloadResult, ReloadResult> {};
template <>
struct LabelTraits<AuditSink> : EnumLabel<Domain::kAuditSink, AuditSink> {};
template <>
struct LabelTraits<policy::TokenRefusal>
    : EnumLabel<Domain::kTokenRefusal, policy::TokenRefusal, 1> {};
template <>
struct LabelTraits<AdminOutcome> : EnumLabel<Domain::kAdminOutcome, AdminOutcome> {};

// Values bounded by the config or the policy: an index given at runtime.
template <Domain D, typename Id>
struct IdLabel {
  static constexpr Domain kDomain = D;
  static constexpr uint32_t Index(Id v) { return v.index; }
};
template <>
struct LabelTraits<ListenerId> : IdLabel<Domain::kListener, ListenerId> {};
template <>
struct LabelTraits<CertificateFileId> : IdLabel<Domain::kCertificateFile, CertificateFileId> {};
template <>
struct LabelTraits<CrlFileId> : IdLabel<Domain::kCrlFile, CrlFileId> {};
template <>
struct LabelTraits<UpstreamServerId> : IdLabel<Domain::kUpstreamServer, UpstreamServerId> {};
template <>
struct LabelTraits<RuleLabel> : IdLabel<Domain::kRule, RuleLabel> {};

// ---------------------------------------------------------------------------------------
// The table.

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };

std::string_view MetricTypeName(MetricType type);

// Where the value comes from at scrape time.
enum class Source : uint8_t {
  kCounted,  // ThreadCounters and MetricsRegistry's own slots, summed
  kProcess,  // read from /proc/self (and getrlimit) by the scrape
};

// Every metric; kMetricTable holds one entry per value, in this order.
enum class Metric : uint8_t {
  kConnectionsAcceptedTotal,
  kConnectionsActive,
  kTlsHandshakeFailuresTotal,
  kConnectionsRefusedTotal,
  kSessionsEndedTotal,
  kConnectTotal,
  kDenialsTotal,
  kTokenRefusalsTotal,
  kPartialSubscriptionsTotal,
  kThrottledSeconds,
  kMalformedPacketsTotal,
  kPacketsTotal,
  kBytesTotal,
  kUpstreamConnectSeconds,
  kUpstreamErrorsTotal,
  kUpstreamServerUp,
  kUpstreamServerConnections,
  kUpstreamServerConnectErrorsTotal,
  kPolicyDecisionSeconds,
  kReloadsTotal,
  kAuditLinesDroppedTotal,
  kPolicyVersion,
  kPolicyLoadedTimestampSeconds,
  kPolicyInfo,
  kBansActive,
  kAdminRequestsTotal,
  kAdminBansActive,
  kPreauthMemoryBytes,
  kCertificateExpiryTimestampSeconds,
  kCrlNextUpdateTimestampSeconds,
  kBuildInfo,
  kProcessCpuSecondsTotal,
  kProcessResidentMemoryBytes,
  kProcessOpenFds,
  kProcessMaxFds,
  kProcessStartTimeSeconds,  // keep last, or move kMetricCount
};
inline constexpr size_t kMetricCount = static_cast<size_t>(Metric::kProcessStartTimeSeconds) + 1;

inline constexpr size_t kMaxLabels = 4;

struct LabelDef {
  std::string_view name;
  Domain domain = Domain::kDirection;
};

struct LabelList {
  std::array<LabelDef, kMaxLabels> items{};
  size_t size = 0;

  constexpr LabelList() = default;
  constexpr LabelList(std::initializer_list<LabelDef> labels) {
    for (const LabelDef& label : labels) items[size++] = label;
  }
  constexpr const LabelDef* begin() const { return items.data(); }
  constexpr const LabelDef* end() const { return items.data() + size; }
};

struct MetricDef {
  Metric id;
  std::string_view name;
  MetricType type;
  Source source;
  std::string_view help;
  LabelList labels;
  std::span<const double> buckets;  // histograms: ascending upper bounds; +Inf implied
};

// Connecting to the broker: TCP (and TLS) on a LAN to a slow WAN link.
inline constexpr double kUpstreamConnectBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10};
// One authorizer decision: microseconds for an ACL walk, more for a password hash.
inline constexpr double kPolicyDecisionBuckets[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5,
                                                    1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2,   0.1};

// How long a client over its rate waits before moat reads from it again: a PUBLISH's
// worth at rates of a few a second, up to the debt of a large packet at a low byte rate.
inline constexpr double kThrottleBuckets[] = {0.001, 0.01, 0.1, 1, 10, 60};

inline constexpr LabelDef kListenerLabel{"listener", Domain::kListener};
inline constexpr LabelDef kDirectionLabel{"direction", Domain::kDirection};

inline constexpr MetricDef kMetricTable[] = {
    {Metric::kConnectionsAcceptedTotal,
     "moat_connections_accepted_total",
     MetricType::kCounter,
     Source::kCounted,
     "TCP connections accepted, by listener.",
     {kListenerLabel},
     {}},
    {Metric::kConnectionsActive,
     "moat_connections_active",
     MetricType::kGauge,
     Source::kCounted,
     "Client connections currently open, by listener.",
     {kListenerLabel},
     {}},
    {Metric::kTlsHandshakeFailuresTotal,
     "moat_tls_handshake_failures_total",
     MetricType::kCounter,
     Source::kCounted,
     "Client TLS handshakes that failed, by reason.",
     {kListenerLabel, {"reason", Domain::kTlsFailureReason}},
     {}},
    {Metric::kConnectionsRefusedTotal,
     "moat_connections_refused_total",
     MetricType::kCounter,
     Source::kCounted,
     "Connections closed before MQTT (at accept, PROXY header, TLS or WebSocket upgrade), by "
     "reason.",
     {kListenerLabel, {"reason", Domain::kConnectionRefusal}},
     {}},
    {Metric::kSessionsEndedTotal,
     "moat_sessions_ended_total",
     MetricType::kCounter,
     Source::kCounted,
     "Sessions ended (from after the handshake on), by the reason their log line gives.",
     {kListenerLabel, {"reason", Domain::kSessionEnd}},
     {}},
    {Metric::kConnectTotal,
     "moat_connect_total",
     MetricType::kCounter,
     Source::kCounted,
     "CONNECT packets answered, by outcome.",
     {{"result", Domain::kConnectResult}},
     {}},
    {Metric::kDenialsTotal,
     "moat_denials_total",
     MetricType::kCounter,
     Source::kCounted,
     "Connections and packets refused by authentication, policy or a session quota (limits).",
     {{"action", Domain::kDenyAction},
      {"reason", Domain::kDenyReason},
      {"mode", Domain::kDenyMode},
      {"rule", Domain::kRule}},
     {}},
    {Metric::kTokenRefusalsTotal,
     "moat_token_refusals_total",
     MetricType::kCounter,
     Source::kCounted,
     "Bearer tokens (auth.jwt) refused at CONNECT, by what did not hold.",
     {{"reason", Domain::kTokenRefusal}},
     {}},
    {Metric::kPartialSubscriptionsTotal,
     "moat_partial_subscriptions_total",
     MetricType::kCounter,
     Source::kCounted,
     "SUBSCRIBE filters granted although the policy withholds part of what they match "
     "(each withheld delivery is a deliver denial), by listener.",
     {kListenerLabel},
     {}},
    {Metric::kThrottledSeconds,
     "moat_throttled_seconds",
     MetricType::kHistogram,
     Source::kCounted,
     "Waits of clients held back over their message or byte rate (limits.on_rate_exceeded: "
     "throttle), by listener; the sum is the time spent throttled.",
     {kListenerLabel},
     kThrottleBuckets},
    {Metric::kMalformedPacketsTotal,
     "moat_malformed_packets_total",
     MetricType::kCounter,
     Source::kCounted,
     "Packets the MQTT codec refused, by direction and decode error.",
     {kDirectionLabel, {"reason", Domain::kDecodeError}},
     {}},
    {Metric::kPacketsTotal,
     "moat_packets_total",
     MetricType::kCounter,
     Source::kCounted,
     "Well-formed MQTT packets decoded, by direction and packet type.",
     {kDirectionLabel, {"type", Domain::kPacketType}},
     {}},
    {Metric::kBytesTotal,
     "moat_bytes_total",
     MetricType::kCounter,
     Source::kCounted,
     "Bytes received from each side, by direction.",
     {kDirectionLabel},
     {}},
    {Metric::kUpstreamConnectSeconds,
     "moat_upstream_connect_seconds",
     MetricType::kHistogram,
     Source::kCounted,
     "Time to open a connection to the broker, TLS included.",
     {},
     kUpstreamConnectBuckets},
    {Metric::kUpstreamErrorsTotal,
     "moat_upstream_errors_total",
     MetricType::kCounter,
     Source::kCounted,
     "Failed attempts to connect to the broker, by reason.",
     {{"reason", Domain::kUpstreamErrorReason}},
     {}},
    {Metric::kUpstreamServerUp,
     "moat_upstream_server_up",
     MetricType::kGauge,
     Source::kCounted,
     "1 while an upstream server is taken for new clients, 0 while it is down (refused, timed "
     "out or left a CONNECT unanswered) and probed in the background.",
     {{"server", Domain::kUpstreamServer}},
     {}},
    {Metric::kUpstreamServerConnections,
     "moat_upstream_server_connections",
     MetricType::kGauge,
     Source::kCounted,
     "Links to an upstream server currently open for clients.",
     {{"server", Domain::kUpstreamServer}},
     {}},
    {Metric::kUpstreamServerConnectErrorsTotal,
     "moat_upstream_server_connect_errors_total",
     MetricType::kCounter,
     Source::kCounted,
     "Failed attempts to reach an upstream server (TCP, TLS or no answer to CONNECT), clients' "
     "and background probes'.",
     {{"server", Domain::kUpstreamServer}},
     {}},
    {Metric::kPolicyDecisionSeconds,
     "moat_policy_decision_seconds",
     MetricType::kHistogram,
     Source::kCounted,
     "Time the authorizer takes for one decision.",
     {},
     kPolicyDecisionBuckets},
    {Metric::kReloadsTotal,
     "moat_reloads_total",
     MetricType::kCounter,
     Source::kCounted,
     "SIGHUP reloads of password file, policy and certificates, by result.",
     {{"result", Domain::kReloadResult}},
     {}},
    {Metric::kAuditLinesDroppedTotal,
     "moat_audit_lines_dropped_total",
     MetricType::kCounter,
     Source::kCounted,
     "Audit lines a sink could not take (file: a write error; syslog: the socket missing or "
     "full), by sink. Lines held back by the audit rate limit are not counted here.",
     {{"sink", Domain::kAuditSink}},
     {}},
    {Metric::kPolicyVersion,
     "moat_policy_version",
     MetricType::kGauge,
     Source::kCounted,
     "Generation of the policy in force; grows by one on every successful reload.",
     {},
     {}},
    {Metric::kPolicyLoadedTimestampSeconds,
     "moat_policy_loaded_timestamp_seconds",
     MetricType::kGauge,
     Source::kCounted,
     "Unix time at which the policy in force was loaded.",
     {},
     {}},
    {Metric::kPolicyInfo,
     "moat_policy_info",
     MetricType::kGauge,
     Source::kCounted,
     "Always 1; sha256 names the policy and password files in force, the same on every "
     "replica that enforces the same ones.",
     {{"sha256", Domain::kPolicyHash}},
     {}},
    {Metric::kBansActive,
     "moat_bans_active",
     MetricType::kGauge,
     Source::kCounted,
     "Bans currently in force.",
     {},
     {}},
    {Metric::kAdminRequestsTotal,
     "moat_admin_requests_total",
     MetricType::kCounter,
     Source::kCounted,
     "Admin API requests and connections refused unanswered, by outcome.",
     {{"outcome", Domain::kAdminOutcome}},
     {}},
    {Metric::kAdminBansActive,
     "moat_admin_bans_active",
     MetricType::kGauge,
     Source::kCounted,
     "Manual bans (admin API) in force, at most admin.max_bans.",
     {},
     {}},
    {Metric::kPreauthMemoryBytes,
     "moat_preauth_memory_bytes",
     MetricType::kGauge,
     Source::kCounted,
     "Bytes buffered for connections that have not logged in yet (limits.max_preauth_memory).",
     {},
     {}},
    {Metric::kCertificateExpiryTimestampSeconds,
     "moat_certificate_expiry_timestamp_seconds",
     MetricType::kGauge,
     Source::kCounted,
     "Unix time at which each configured certificate expires.",
     {{"file", Domain::kCertificateFile}},
     {}},
    {Metric::kCrlNextUpdateTimestampSeconds,
     "moat_crl_next_update_timestamp_seconds",
     MetricType::kGauge,
     Source::kCounted,
     "Unix time of the earliest nextUpdate of the CRLs in each configured CRL file, as last "
     "loaded; 0 when none of them has one (such a CRL never goes stale).",
     {{"file", Domain::kCrlFile}},
     {}},
    {Metric::kBuildInfo,
     "moat_build_info",
     MetricType::kGauge,
     Source::kCounted,
     "Always 1; the labels name the moat and OpenSSL versions.",
     {{"version", Domain::kVersion}, {"openssl", Domain::kOpenssl}},
     {}},
    {Metric::kProcessCpuSecondsTotal,
     "process_cpu_seconds_total",
     MetricType::kCounter,
     Source::kProcess,
     "Total user and system CPU time spent in seconds.",
     {},
     {}},
    {Metric::kProcessResidentMemoryBytes,
     "process_resident_memory_bytes",
     MetricType::kGauge,
     Source::kProcess,
     "Resident memory size in bytes.",
     {},
     {}},
    {Metric::kProcessOpenFds,
     "process_open_fds",
     MetricType::kGauge,
     Source::kProcess,
     "Number of open file descriptors.",
     {},
     {}},
    {Metric::kProcessMaxFds,
     "process_max_fds",
     MetricType::kGauge,
     Source::kProcess,
     "Maximum number of open file descriptors.",
     {},
     {}},
    {Metric::kProcessStartTimeSeconds,
     "process_start_time_seconds",
     MetricType::kGauge,
     Source::kProcess,
     "Start time of the process since unix epoch in seconds.",
     {},
     {}},
};

constexpr const MetricDef& Def(Metric metric) { return kMetricTable[static_cast<size_t>(metric)]; }

// ---------------------------------------------------------------------------------------
// The table cannot compile wrong.

namespace table_checks {

constexpr bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
constexpr bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
constexpr bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}
constexpr bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0)) return false;
  }
  return true;
}

constexpr bool EntryIsValid(const MetricDef& def, size_t position) {
  if (static_cast<size_t>(def.id) != position) return false;  // table in enum order
  if (!IsValidName(def.name)) return false;
  // The contract: moat's own metrics start with moat_; process_* are the standard names
  // every Prometheus client exports.
  if (def.source == Source::kProcess ? !StartsWith(def.name, "process_")
                                     : !StartsWith(def.name, "moat_")) {
    return false;
  }
  // OpenMetrics derives the family name by stripping _total from counters, and a gauge
  // or histogram named *_total would read as a counter.
  if ((def.type == MetricType::kCounter) != EndsWith(def.name, "_total")) return false;
  if (def.help.empty() || def.help.find_first_of("\\\n|") != std::string_view::npos) {
    return false;  // help goes unescaped into the text format and the markdown table
  }
  if (def.labels.size > kMaxLabels) return false;
  for (size_t i = 0; i < def.labels.size; ++i) {
    const LabelDef& label = def.labels.items[i];
    if (!IsValidName(label.name) || label.name == "le" || StartsWith(label.name, "__")) {
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (def.labels.items[j].name == label.name) return false;
    }
    // A sparse series is left out while zero, which only a counter can afford: a gauge
    // at zero or an empty histogram still says something.
    if (IsSparse(label.domain) && def.type != MetricType::kCounter) return false;
  }
  if ((def.type == MetricType::kHistogram) == def.buckets.empty()) return false;
  for (size_t i = 1; i < def.buckets.size(); ++i) {
    if (!(def.buckets[i - 1] < def.buckets[i])) return false;
  }
  if (def.source == Source::kProcess && def.labels.size != 0) return false;
  return true;
}

constexpr bool TableIsValid() {
  if (std::size(kMetricTable) != kMetricCount) return false;
  for (size_t i = 0; i < std::size(kMetricTable); ++i) {
    if (!EntryIsValid(kMetricTable[i], i)) return false;
    for (size_t j = 0; j < i; ++j) {
      if (kMetricTable[j].name == kMetricTable[i].name) return false;
    }
  }
  return true;
}

}  // namespace table_checks

static_assert(table_checks::TableIsValid(),
              "kMetricTable: enum order, names, _total suffixes, labels or buckets are wrong");

// True when `L...` are exactly the label types of `metric`, in order.
template <Metric M, typename... L>
constexpr bool LabelsMatch() {
  constexpr const MetricDef& def = Def(M);
  if (def.labels.size != sizeof...(L)) return false;
  constexpr std::array<Domain, sizeof...(L)> domains{LabelTraits<L>::kDomain...};
  for (size_t i = 0; i < domains.size(); ++i) {
    if (def.labels.items[i].domain != domains[i]) return false;
  }
  return true;
}

// Every metric as a markdown table (header row, then one row per metric: name | type |
// labels | help), for the README's metric list.
std::string RenderMetricTableMarkdown();

}  // namespace moat::metrics
