// Everything between accept and the first MQTT byte, cheapest refusal first:
//
//   accept ─► limits.max_connections ─► PROXY header (only from proxy_protocol_from)
//          ─► address banned? ─► per-address open connections and rate ─► TLS / WebSocket
//          ─► a client stream for the Session
//
// All of it within one deadline from accept (limits.tls_handshake_timeout, itself
// within limits.connect_timeout). Every refusal is counted in
// moat_connections_refused_total (TLS failures in moat_tls_handshake_failures_total),
// written to the audit log, and what only a misbehaving client does (a PROXY header from
// the wrong sender or a bad one, a failed handshake, a timeout) counts towards the
// address's ban like a failed login.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <string>

#include "metrics/registry.h"
#include "policy/auth/ban_list.h"
#include "policy/authorizer.h"
#include "proxy/config/config.h"
#include "proxy/connection_gate.h"
#include "proxy/net/byte_stream.h"
#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/session/keep_alive.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {
namespace admin {
class BanStore;
}

// What opening a client stream needs from its worker and listener.
struct ConnectionSetupContext {
  const config::Listener& listener;
  const tls::SslCtxPtr& tls_context;  // the listener's in force; null for plain TCP
  metrics::ListenerId listener_id;
  metrics::ThreadCounters& counters;
  ConnectionGate& gate;
  policy::BanList* bans;               // null with "ban: off"
  const admin::BanStore* manual_bans;  // the admin API's; never null
  const config::Limits& limits;
};

struct OpenedClient {
  std::unique_ptr<net::ByteStream> stream;
  policy::ClientIdentity identity;  // address (after the PROXY header) and listener
  // The client's address and port and the address and port it connected to, after the
  // PROXY header like identity.address: for a PROXY header towards the broker.
  proxy_protocol::ProxiedAddresses endpoints;
  ConnectionGate::Ticket ticket;  // counted against the limits until the session ends
  SteadyTime accepted;            // when the login deadline started
};

// The checks on a client's address that need no I/O: its ban, then its share of open
// connections and of the connection rate. A refusal is counted and audited; true when
// admitted. Done at accept, before a coroutine or a timer is made for the connection
// (after the PROXY header on such a listener), so a flood from one address costs little.
bool ScreenAddress(const ConnectionSetupContext& context, ConnectionGate::Ticket& ticket,
                   const std::string& address);

// `ticket` has passed ConnectionGate::Open, and, without a PROXY header, ScreenAddress()
// for `address`, the peer's as the accept loop read it. nullopt when the connection was
// refused (and counted, audited, closed).
boost::asio::awaitable<std::optional<OpenedClient>> OpenClient(
    boost::asio::ip::tcp::socket socket, ConnectionGate::Ticket ticket, std::string address,
    const ConnectionSetupContext& context);

// moat_connections_refused_total and an audit line.
void ReportRefusedConnection(const ConnectionSetupContext& context,
                             metrics::ConnectionRefusal refusal, std::string_view address,
                             std::string_view detail = {});

}  // namespace moat::proxy
