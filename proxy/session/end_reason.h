// Why a session ended: the one reason its log line and its audit trail give.
#pragma once

#include <cstdint>
#include <string_view>

#include "metrics/metric_table.h"

namespace moat::proxy {

// Named once, in the metric table: moat_sessions_ended_total{reason} is this enum.
using EndReason = metrics::SessionEnd;
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
