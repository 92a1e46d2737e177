// Why a session ended: the one reason its log line and its audit trail give.
#pragma once

#include <cstdint>
#include <string_view>

namespace moat::proxy {

#define MOAT_END_REASONS(X)                                                                  \
  X(kClientDisconnected, "client_disconnected") /* DISCONNECT from the client */             \
  X(kClientClosed, "client_closed")             /* the client vanished without DISCONNECT */ \
  X(kBrokerClosed, "broker_closed")                                                          \
  X(kConnectTimeout, "connect_timeout")                                                      \
  X(kKeepAliveTimeout, "keep_alive_timeout")                                                 \
  X(kMalformedFromClient, "malformed_from_client")                                           \
  X(kMalformedFromBroker, "malformed_from_broker")                                           \
  X(kUpstreamUnavailable, "upstream_unavailable")                                            \
  X(kRefused, "refused")                                                                     \
  X(kRevoked, "revoked") /* the password file no longer vouches for the client */            \
  X(kShutdown, "shutdown")                                                                   \
  X(kPreauthMemory, "preauth_memory") /* closed to keep limits.max_preauth_memory */         \
  X(kWriteTimeout, "write_timeout")   /* a peer took nothing for limits.write_timeout */     \
  X(kIoError, "io_error")

#define MOAT_END_REASON_ENUMERATOR(id, name) id,
enum class EndReason : uint8_t { MOAT_END_REASONS(MOAT_END_REASON_ENUMERATOR) };
#undef MOAT_END_REASON_ENUMERATOR

std::string_view EndReasonName(EndReason reason);

// The ends that are the ordinary life of a connection. They are not logged: at thousands
// of connections a second they would drown what matters.
constexpr bool IsOrdinaryEnd(EndReason reason) {
  return reason == EndReason::kClientDisconnected || reason == EndReason::kClientClosed ||
         reason == EndReason::kShutdown;
}

// Whether the client's link is dropped rather than closed with a goodbye (TLS
// close_notify, WebSocket close): there is nobody left to say it to.
constexpr bool DropsClientLink(EndReason reason) {
  return reason == EndReason::kClientClosed || reason == EndReason::kIoError;
}

}  // namespace moat::proxy
