// What one session tells the outside: this thread's counters, the audit log (its
// session_admitted and session_ended lines among them), and the one log line at its end.
// Every mapping from a session event to a metric label or an audit reason lives here, so
// admission and relay only say what happened.
#pragma once

#include <array>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "metrics/registry.h"
#include "policy/auth/authenticator.h"
#include "policy/authorizer.h"
#include "policy/token/token_refusal.h"
#include "proxy/audit_log.h"
#include "proxy/enforcer.h"
#include "proxy/mqtt/decode_error.h"
#include "proxy/net/byte_stream.h"
#include "proxy/session/client_rate.h"
#include "proxy/session/end_reason.h"
#include "proxy/session/keep_alive.h"

namespace moat::proxy {

// How an admitted client proved who it is, and over what link: its session_admitted line.
struct AdmittedClient {
  policy::AuthMethod auth = policy::AuthMethod::kAnonymous;
  std::string cert_fingerprint{};  // empty: no client certificate
  net::TlsParameters tls{};        // empty: plain TCP
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kUnknown;
};

// "3.1", "3.1.1" or "5", as audit lines name it.
std::string_view MqttVersionName(mqtt::ProtocolVersion version);

class SessionReport {
 public:
  // `identity` is the session's, filled in as admission learns who the client is.
  SessionReport(metrics::ThreadCounters& counters, metrics::ListenerId listener,
                const policy::ClientIdentity& identity);
  ~SessionReport();
  SessionReport(const SessionReport&) = delete;
  SessionReport& operator=(const SessionReport&) = delete;

  // Per packet and per read: plain counter stores and increments, inline.
  void Packet(mqtt::Direction from, mqtt::PacketType type, size_t bytes) {
    counters_.Add<metrics::Metric::kPacketsTotal>(from, type);
    Totals& totals = totals_[static_cast<size_t>(from)];
    totals.messages += type == mqtt::PacketType::kPublish;
    totals.bytes += bytes;
  }
  void Bytes(mqtt::Direction from, size_t bytes) {
    counters_.Add<metrics::Metric::kBytesTotal>(from, bytes);
  }

  void Connect(metrics::ConnectResult result);
  // The CONNECT goes on to the broker: the session_admitted line, and the start of the
  // session's duration.
  void Admitted(const AdmittedClient& client, SteadyTime now);
  // Closed before logging in for a reason moat_connections_refused_total names.
  void ConnectionRefused(metrics::ConnectionRefusal refusal);
  // A refused login: moat_connect_total, moat_denials_total{action="connect"} where it is
  // a denial, and a refused_connect audit line.
  void AuthFailure(policy::AuthFailure failure);
  // Before AuthFailure(kBadToken): what about the token did not hold, counted now and
  // given as that refused_connect line's detail. `detail` never holds the token.
  void TokenRefused(policy::TokenRefusal refusal, std::string_view detail);
  // A refused CONNECT or Will: the policy said no.
  void NotAuthorized(const policy::Decision& decision);
  void UpstreamUnavailable(const boost::system::error_code& error);
  void Malformed(mqtt::Direction from, mqtt::DecodeError error);
  void Denials(std::span<const Denial> denials);
  void PartialSubscriptions(uint16_t filters) {
    if (filters != 0)
      counters_.Add<metrics::Metric::kPartialSubscriptionsTotal>(listener_, filters);
  }
  // The client went over its message or byte rate: held back (`throttled`) or refused.
  void RateExceeded(const ClientRate::Hold& hold, bool throttled);
  // A throttled client is read from again after `waited`.
  void ThrottleEnded(std::chrono::duration<double> waited) {
    counters_.Observe<metrics::Metric::kThrottledSeconds>(listener_, waited.count());
  }
  // Fills in who the client is and writes `event` to the audit log, if there is one.
  void Audit(AuditEvent event) const;
  // moat_sessions_ended_total, the session's one log line unless it ended the ordinary
  // way, and its session_ended line if it was admitted.
  void Ended(EndReason reason, std::string_view detail, SteadyTime now) const;

  metrics::ThreadCounters& counters() { return counters_; }
  // For the admin API's session list: what Packet() counted, and when it was admitted.
  uint64_t messages(mqtt::Direction from) const {
    return totals_[static_cast<size_t>(from)].messages;
  }
  uint64_t bytes(mqtt::Direction from) const { return totals_[static_cast<size_t>(from)].bytes; }
  std::optional<SteadyTime> admitted() const { return admitted_; }

 private:
  metrics::ThreadCounters& counters_;
  const metrics::ListenerId listener_;
  const policy::ClientIdentity& identity_;
  // For the session_ended line: by mqtt::Direction, plain integers (one session, one
  // thread).
  struct Totals {
    uint64_t messages = 0;
    uint64_t bytes = 0;
  };
  std::array<Totals, 2> totals_{};
  std::optional<SteadyTime> admitted_;
  std::string token_refusal_;  // "reason: detail" of a refused token, for its line
};

}  // namespace moat::proxy
