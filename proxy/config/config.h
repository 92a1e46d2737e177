// moat's configuration: parsed once from YAML into const structs shared by every
// connection. The keys and their meanings are fixed in shared/CONTRACT.md; everything
// else here is documented in the README.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/auth/authenticator.h"
#include "policy/authorizer.h"
#include "policy/network.h"
#include "policy/token/jwt.h"
#include "proxy/config/fixed_settings.h"
#include "proxy/proxy_protocol/proxy_protocol.h"

namespace moat::config {

// "host:port", "[v6addr]:port" or "hostname:port"; resolved when used.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // as written, e.g. "[::1]:8883"
};

struct ServerTls {
  std::string cert;       // PEM chain; absolute path (resolved against the config folder)
  std::string key;        // PEM private key
  std::string client_ca;  // optional: verify client certificates against it
  bool require_client_cert = false;
  // Certificate revocation lists (PEM or DER) for the client certificates client_ca
  // verifies: the leaf must be covered by one; CAs above it are checked where a CRL is
  // given for them.
  std::vector<std::string> crl_files;
  // A CRL past its nextUpdate: refuse every certificate it should vouch for (false, fail
  // closed), or keep using it (true).
  bool accept_stale_crl = false;
};

enum class ListenerProtocol { kMqtt, kWebSocket };

struct Listener {
  std::string name;  // defaults to the bind address; used in logs, metrics and policy
  Endpoint bind;
  std::optional<ServerTls> tls;
  ListenerProtocol protocol = ListenerProtocol::kMqtt;
  std::string websocket_path = "/mqtt";
  // The Origin values a browser page may upgrade from, as NormalizeOrigin() gives them;
  // empty: any Origin, or none.
  std::vector<std::string> websocket_origins;
  // The HAProxy PROXY protocol header versions it expects first; nullopt: none.
  std::optional<proxy_protocol::ProxyProtocolVersionAllowed> proxy_protocol;
  // Who may send that header (the load balancers): anyone else could claim any address.
  std::vector<policy::Cidr> proxy_protocol_from;
};

struct UpstreamTls {
  std::string ca;
  std::string server_name;  // SNI and the name the broker's certificate must carry;
                            // empty: the host of upstream.address
  std::string cert;         // optional client certificate towards the broker
  std::string key;
};

// What moat sends the broker as CONNECT credentials.
enum class UpstreamCredentials { kPassthrough, kStrip, kReplace };

// upstream.proxy_protocol: the PROXY header moat puts in front of each link to the
// broker, so the broker sees the client's address (and in v2 its TLS facts and identity).
enum class UpstreamProxyProtocol { kNone, kV1, kV2 };

// One broker node: upstream.address, or an item of upstream.servers.
struct UpstreamServer {
  Endpoint address;
  std::optional<UpstreamTls> tls;  // its own `tls:`, else upstream.tls; nullopt: plain TCP
  int line = 0;                    // where it is written, for messages
};

// How a new client's server is chosen among those up (proxy/upstream_select.h).
enum class UpstreamBalance { kClientId, kRoundRobin, kLeastConnections };

// What a client whose CONNECT no server answered within upstream.unavailable_wait gets.
enum class UpstreamUnavailable {
  kClose,    // the connection closes without a CONNACK, as a dead broker's would
  kConnack,  // CONNACK 3 (3.1.1) / 0x88 (MQTT 5): Server unavailable
};

struct Upstream {
  Endpoint address;  // the first of `servers`
  std::optional<UpstreamTls> tls;
  // Every broker node, in config order; upstream.address is a list of one.
  std::vector<UpstreamServer> servers;
  UpstreamBalance balance = UpstreamBalance::kClientId;
  // How long a CONNECT is held while no server can be reached, retrying, before the
  // client gets on_unavailable; never past limits.connect_timeout from accept.
  std::chrono::milliseconds unavailable_wait{5000};
  UpstreamUnavailable on_unavailable = UpstreamUnavailable::kClose;
  std::chrono::milliseconds connect_timeout{5000};
  UpstreamCredentials credentials = UpstreamCredentials::kPassthrough;
  std::string username;       // kReplace: moat's own service account ...
  std::string password_file;  // ... and a file holding its password (first line)
  UpstreamProxyProtocol proxy_protocol = UpstreamProxyProtocol::kNone;
  // IP literals the links to the broker leave from, one after another; each holds about
  // one port range of links per broker address. Empty: the kernel picks the address.
  std::vector<std::string> source_addresses;
};

// Which field of a verified client certificate names the client.
enum class CertificateIdentity { kNone, kCommonName, kSanDns, kSanEmail, kSanUri };

struct Ban {
  uint32_t failures = 5;                            // failed attempts ...
  std::chrono::milliseconds window{60'000};         // ... within this long ...
  std::chrono::milliseconds duration{10 * 60'000};  // ... ban the address or user this long
};

// auth.jwt: bearer tokens in the CONNECT password (policy/token/jwt.h).
struct Jwt {
  std::string jwks_file;
  policy::TokenRules rules;     // issuer, audiences, algorithms, claims, clock skew
  bool match_username = false;  // true: the CONNECT user name must be the identity claim
  int line = 0;                 // where auth.jwt is written, for messages
};

struct Auth {
  std::string password_file;  // empty: no password file
  std::optional<Jwt> jwt;
  bool allow_anonymous = false;
  policy::AuthRequirement require = policy::AuthRequirement::kPassword;
  CertificateIdentity certificate_identity = CertificateIdentity::kNone;
  // Optional glob the client id must match, "%u" standing for the identity as a literal
  // (e.g. "%u-*"), so one user cannot take over another user's session.
  std::string client_id_pattern;
  std::chrono::milliseconds failure_delay{1000};  // before answering a refused CONNECT
  std::optional<Ban> ban = Ban{};                 // nullopt: "ban: off"
  bool disconnect_revoked = true;  // on reload, end sessions whose credentials went away
  int hash_threads = 0;            // 0: one per core
  // false: a client id belongs to the identity that holds it (or last held it with a
  // persistent session); true: any identity may take any client id over, as in mosquitto.
  bool shared_client_ids = false;
};

// What a 3.1/3.1.1 client gets for a denied PUBLISH (MQTT 5 clients get 0x87).
enum class DeniedPublish { kDrop, kDisconnect };

struct Policy {
  std::string acl_file;  // mosquitto acl_file format
  std::string file;      // native YAML policy
  // Without a file moat denies every PUBLISH, SUBSCRIBE and Will; this is the one way to
  // grant everything instead, and it is named in a warning wherever the config is read.
  bool allow_all = false;
  DeniedPublish on_denied_publish = DeniedPublish::kDrop;
  bool audit_only = false;  // mode: audit — count and log denials, enforce none
  policy::SubscriptionGrant subscription_grant = policy::SubscriptionGrant::kAnyReadable;
};

struct Metrics {
  std::optional<Endpoint> bind;
  std::string bearer_token_file;  // /metrics needs "Authorization: Bearer <first line>"
  std::string basic_auth_file;    // or Basic auth with the "user:password" on its first line
  std::optional<ServerTls> tls;   // HTTPS instead of HTTP; the same keys as a listener's
  int tls_line = 0;  // where metrics.tls is written: certificate errors found later cite it
};

// What `moat ctl` presents to the admin API it finds at admin.bind.
struct AdminCtl {
  std::string ca;    // verifies the admin server's certificate; default: tls.client_ca
  std::string cert;  // ctl's client certificate (and key), when the API wants one
  std::string key;
  std::string server_name;  // the name the server's certificate must carry; default: bind host
};

// The admin API (README "Admin API"): off unless bind is set, and never unauthenticated.
struct Admin {
  std::optional<Endpoint> bind;
  std::string bearer_token_file;  // requests may carry "Authorization: Bearer <first line>"
  std::optional<ServerTls> tls;   // HTTPS; with client_ca, a verified certificate is a login
  std::string state_file;         // manual bans, rewritten atomically on every change
  AdminCtl ctl;
  uint32_t max_bans = 10'000;                         // manual bans in force at once
  uint32_t max_body_bytes = 64 * 1024;                // one request's JSON body
  uint32_t max_connections = 16;                      // open admin connections at once
  std::chrono::milliseconds request_timeout{10'000};  // accept to the end of the request
};

struct Audit {
  std::string file;             // empty or "-": stderr
  double rate_per_second = 20;  // lines per event and reason ...
  double burst = 100;           // ... with bursts of this many
  // Every line also as an RFC 5424 datagram to a local socket, for a SIEM's collector.
  bool syslog = false;
  std::string syslog_socket = "/dev/log";
  // daemon, as mosquitto logs to syslog by default.
  int syslog_facility = 3;
};

// What one logged-in session may hold or send at once (README "Limits"). Checked by the
// Enforcer; each refusal is a denial with its own reason.
struct SessionQuotas {
  // Filters granted and not unsubscribed; a filter granted again replaces itself.
  uint32_t max_subscriptions = 1000;
  // PUBLISH and Will topics, SUBSCRIBE and UNSUBSCRIBE filters: bytes, and levels.
  uint32_t max_topic_length = 1024;
  uint32_t max_topic_levels = 128;
  // Filters in one SUBSCRIBE or UNSUBSCRIBE: each is judged on the I/O thread.
  uint32_t max_filters_per_subscribe = 1000;
  // QoS 1/2 PUBLISHes the broker has not yet answered; MQTT 5 clients are told it as the
  // CONNACK's Receive Maximum.
  uint32_t max_inflight = 1000;
};

// What moat does with a client over its message or byte rate.
enum class RateExceeded : uint8_t {
  kThrottle,    // stop reading from it until the bucket refills: TCP backpressure
  kDisconnect,  // end the session (MQTT 5: DISCONNECT 0x96 Message rate too high)
};

// Per client, from the client: messages (PUBLISH packets) and bytes (every packet) a
// second, each a token bucket. Unlimited by default: no rate suits every fleet, and a
// client that worked against the broker must keep working. The native policy's `limits`
// entries override these for the clients they select (policy/acl/rate_table.h).
struct ClientRateLimits {
  policy::Rate messages;
  policy::Rate bytes;
  RateExceeded on_exceeded = RateExceeded::kThrottle;
};

struct Limits {
  // From accept to logged in: PROXY header, TLS, WebSocket upgrade, CONNECT, password.
  std::chrono::milliseconds connect_timeout{10'000};
  // From accept to the end of the PROXY header, TLS handshake and WebSocket upgrade.
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  std::chrono::milliseconds drain_timeout{5'000};  // SIGTERM: how long sessions may drain
  uint32_t max_packet_size = 16 * 1024 * 1024;     // whole packet, both directions
  // A CONNECT is refused from its fixed header above this: a client id, user name, a
  // password or token of a few KiB, a Will and MQTT 5 properties fit ten times over.
  uint32_t max_connect_packet_size = 64 * 1024;
  // Bytes all connections not yet logged in may hold together; past it the oldest of
  // them that are still sending their CONNECT are closed, never a logged-in session.
  uint64_t max_preauth_memory = 64 * 1024 * 1024;
  uint32_t max_connections = 100'000;           // process-wide
  uint32_t max_connections_per_address = 256;   // open at once, per IPv4 /32 or IPv6 /64
  double connection_rate_per_address = 50;      // new connections a second, per address ...
  uint32_t connection_burst_per_address = 256;  // ... with bursts of this many
  // The longest keep-alive a client may ask for, 0 (none) included: MQTT 5 clients are
  // told the value in the CONNACK, older ones are held to it.
  std::chrono::seconds max_keepalive{3600};
  // A peer that takes nothing of what moat has for it this long is closed.
  std::chrono::milliseconds write_timeout{60'000};
  // TCP keep-alive on both links: idle time before the first probe (0: off).
  std::chrono::seconds tcp_keepalive{120};
  SessionQuotas session;
  ClientRateLimits rates;
};

struct Config {
  std::string path;  // the file it was loaded from
  std::vector<Listener> listeners;
  Upstream upstream;
  Auth auth;
  Policy policy;
  Metrics metrics;
  Admin admin;
  Audit audit;
  Limits limits;
  int threads = 0;  // 0: one per core
  // Reload by itself when a certificate, key, password or policy file changes (as when
  // Kubernetes updates a mounted ConfigMap or Secret), as if sent SIGHUP.
  bool watch_files = false;
  // The upstream section as written (canonical YAML): a reload that leaves it alone keeps
  // the servers' health (proxy/live_config.h).
  std::string upstream_yaml;
  // What a reload may not change (fixed_settings.h), as this file writes it.
  std::vector<FixedSetting> fixed_settings;
  // "FILE:LINE: warning: ..." for what is valid but likely not meant: printed by
  // --check-config and logged at start and at every reload.
  std::vector<std::string> warnings;
};

// Loads and validates `path`. On failure the status message lists every problem found,
// one per line, each as "FILE:LINE: message" (unknown keys included), not just the first.
absl::StatusOr<Config> LoadConfig(const std::string& path);
// The same for text already in memory. `path` names the file in messages, and relative
// file names in the config resolve against its folder; those files must exist, as for
// LoadConfig(), but are not opened.
absl::StatusOr<Config> ParseConfig(std::string_view text, const std::string& path);

}  // namespace moat::config
