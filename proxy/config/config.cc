// LoadConfig(): YAML text -> Config, one section reader per map of the file. The keys
// of CONTRACT.md keep their meaning; the rest is documented in deploy/moat.example.yaml.
#include "proxy/config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "policy/file_reading/file_text.h"
#include "proxy/config/admin_config.h"
#include "proxy/config/websocket_origin.h"
#include "proxy/config/yaml_reader.h"

namespace moat::config {
namespace {

using std::chrono::milliseconds;

// Long enough for any sane timeout, short enough that deadline arithmetic on
// steady_clock can never overflow.
constexpr milliseconds kMaxDuration = std::chrono::hours(24);
// MQTT's largest packet: 1 type byte, 4 length bytes, 268,435,455 bytes of body. The
// smallest are 2 bytes (PINGREQ, PINGRESP).
constexpr int64_t kLargestMqttPacket = 1 + 4 + 268'435'455;
constexpr int64_t kMaxThreads = 1024;

struct Context {
  Problems& problems;
  std::filesystem::path base_dir;  // relative file names resolve against it
  Config& config;

  void Warn(int line, std::string_view message) {
    config.warnings.push_back(
        absl::StrCat(config.path, ":", line, ": warning: ", std::string(message)));
  }
};

// A listener and where its bind and name were written, for duplicate checks.
struct ListenerEntry {
  Listener listener;
  int bind_line = 0;
  int name_line = 0;
  bool bind_ok = false;
  bool name_given = false;
};

// Optional sections may be left empty ("policy:" with every line commented out), which
// means the same as leaving them out.
bool IsEmptySection(const Field& field) { return field.value.IsNull(); }

// Listener names appear in log lines, metric labels and policy rules: keep them to
// characters that need no quoting anywhere (a default name is a bind address).
bool IsValidListenerName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("._-:[]").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// One path or a list of them.
void ReadCrlFiles(const Field& field, ServerTls& tls, Context& ctx) {
  if (!field.value.IsSequence()) {
    if (auto path = ReadPath(field, ctx.base_dir, ctx.problems)) tls.crl_files.push_back(*path);
    return;
  }
  if (field.value.size() == 0) {
    ctx.problems.Add(field.line, absl::StrCat("'", field.path, "' is an empty list"));
    return;
  }
  for (const Field& item : file_reading::Elements(field)) {
    if (auto path = ReadPath(item, ctx.base_dir, ctx.problems)) tls.crl_files.push_back(*path);
  }
}

std::optional<ServerTls> ReadServerTls(const Field& field, Context& ctx) {
  // "tls:" with nothing under it must not quietly mean plain TCP.
  if (!field.value.IsMap()) {
    ctx.problems.Add(field.line, absl::StrCat("'", field.path,
                                              "' must be a map with cert and key (omit it for "
                                              "plain TCP)"));
    return std::nullopt;
  }
  MapReader map(field.value, field.path, field.line,
                {"cert", "key", "client_ca", "require_client_cert", "crl_file", "on_stale_crl"},
                ctx.problems);
  ServerTls tls;
  if (const Field* f = map.Require("cert"))
    tls.cert = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  if (const Field* f = map.Require("key"))
    tls.key = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  if (const Field* f = map.Find("client_ca")) {
    tls.client_ca = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  }
  if (const Field* f = map.Find("require_client_cert")) {
    tls.require_client_cert = ReadBool(*f, ctx.problems).value_or(false);
    // Requiring a certificate nobody can verify would either refuse every client or,
    // worse, accept unverified ones.
    if (tls.require_client_cert && map.Find("client_ca") == nullptr) {
      ctx.problems.Add(
          f->line,
          absl::StrCat("'", f->path, "' is true but 'client_ca' is not set in '", field.path, "'"));
    }
  }
  if (const Field* f = map.Find("crl_file")) {
    ReadCrlFiles(*f, tls, ctx);
    // Without client_ca no client certificate is verified, so no CRL would ever be asked.
    if (map.Find("client_ca") == nullptr) {
      ctx.problems.Add(f->line, absl::StrCat("'", f->path,
                                             "' is set but 'client_ca' is not set in '", field.path,
                                             "': only verified certificates can be "
                                             "revoked"));
    }
  }
  if (const Field* f = map.Find("on_stale_crl")) {
    tls.accept_stale_crl =
        ReadEnum<bool>(*f, {{"refuse", false}, {"accept", true}}, ctx.problems).value_or(false);
    if (map.Find("crl_file") == nullptr) {
      ctx.problems.Add(f->line,
                       absl::StrCat("'", f->path, "' needs 'crl_file' in '", field.path, "'"));
    }
  }
  return tls;
}

// A WebSocket key on an MQTT listener suggests the operator meant a WebSocket listener;
// an invalid protocol (nullopt) has been reported already.
void RequireWebSocket(const Field& field, std::optional<ListenerProtocol> protocol, Context& ctx) {
  if (protocol.has_value() && *protocol != ListenerProtocol::kWebSocket) {
    ctx.problems.Add(field.line, absl::StrCat("'", field.path,
                                              "' applies only to listeners with protocol: "
                                              "websocket"));
  }
}

// An empty list would refuse every browser and allow every other client, which is
// surely not what was meant: leaving the key out is how to allow any Origin.
std::vector<std::string> ReadWebSocketOrigins(const Field& field, Context& ctx) {
  std::vector<std::string> origins;
  if (!ExpectSequence(field, ctx.problems)) return origins;
  if (field.value.size() == 0) {
    ctx.problems.Add(field.line, absl::StrCat("'", field.path,
                                              "' must list at least one origin (leave it out "
                                              "to allow any)"));
    return origins;
  }
  for (const Field& element : file_reading::Elements(field)) {
    const std::optional<std::string> text = ReadString(element, ctx.problems);
    if (!text) continue;
    if (std::optional<std::string> origin = NormalizeOrigin(*text)) {
      origins.push_back(*std::move(origin));
    } else {
      ctx.problems.Add(element.line,
                       absl::StrCat("'", element.path,
                                    "' must be an origin as browsers send it, scheme://host or "
                                    "scheme://host:port without a path (e.g. "
                                    "https://hmi.plant.example), got ",
                                    file_reading::Quote(*text)));
    }
  }
  return origins;
}

ListenerEntry ReadListener(const Field& field, Context& ctx) {
  ListenerEntry entry;
  entry.name_line = field.line;
  MapReader map(field.value, field.path, field.line,
                {"name", "bind", "tls", "protocol", "websocket_path", "websocket_origins",
                 "proxy_protocol", "proxy_protocol_from"},
                ctx.problems);
  Listener& listener = entry.listener;
  if (const Field* f = map.Require("bind")) {
    entry.bind_line = f->line;
    if (std::optional<Endpoint> bind = ReadEndpoint(*f, ctx.problems)) {
      listener.bind = *std::move(bind);
      listener.name = listener.bind.ToString();
      entry.bind_ok = true;
    }
  }
  if (const Field* f = map.Find("name")) {
    if (std::optional<std::string> name = ReadString(*f, ctx.problems)) {
      if (IsValidListenerName(*name)) {
        listener.name = *std::move(name);
        entry.name_given = true;
        entry.name_line = f->line;
      } else {
        ctx.problems.Add(f->line, absl::StrCat("'", f->path,
                                               "' may hold only letters, digits and . _ - : [ ] "
                                               "(at most 64)"));
      }
    }
  }
  if (const Field* f = map.Find("tls")) listener.tls = ReadServerTls(*f, ctx);
  std::optional<ListenerProtocol> protocol = ListenerProtocol::kMqtt;
  if (const Field* f = map.Find("protocol")) {
    protocol = ReadEnum<ListenerProtocol>(
        *f, {{"mqtt", ListenerProtocol::kMqtt}, {"websocket", ListenerProtocol::kWebSocket}},
        ctx.problems);
    listener.protocol = protocol.value_or(listener.protocol);
  }
  if (const Field* f = map.Find("websocket_path")) {
    if (std::optional<std::string> path = ReadString(*f, ctx.problems)) {
      const bool clean = std::none_of(path->begin(), path->end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == '?' || c == '#';
      });
      if (path->front() != '/') {
        ctx.problems.Add(f->line,
                         absl::StrCat("'", f->path, "' must start with '/', got '", *path, "'"));
      } else if (!clean) {
        ctx.problems.Add(
            f->line,
            absl::StrCat("'", f->path, "' must be a plain path without spaces, '?' or '#'"));
      } else {
        listener.websocket_path = *std::move(path);
      }
    }
    RequireWebSocket(*f, protocol, ctx);
  }
  if (const Field* f = map.Find("websocket_origins")) {
    listener.websocket_origins = ReadWebSocketOrigins(*f, ctx);
    RequireWebSocket(*f, protocol, ctx);
  }
  if (const Field* f = map.Find("proxy_protocol")) {
    using Versions = proxy_protocol::ProxyProtocolVersionAllowed;
    listener.proxy_protocol = ReadEnum<std::optional<Versions>>(*f,
                                                                {{"none", std::nullopt},
                                                                 {"v1", Versions::kV1},
                                                                 {"v2", Versions::kV2},
                                                                 {"any", Versions::kAny}},
                                                                ctx.problems)
                                  .value_or(listener.proxy_protocol);
  }
  const Field* from = map.Find("proxy_protocol_from");
  if (from != nullptr && ExpectSequence(*from, ctx.problems)) {
    for (const Field& element : file_reading::Elements(*from)) {
      const std::optional<std::string> text = ReadString(element, ctx.problems);
      if (!text) continue;
      std::string error;
      if (auto cidr = policy::ParseCidr(*text, &error)) {
        listener.proxy_protocol_from.push_back(*cidr);
      } else {
        ctx.problems.Add(element.line, absl::StrCat("'", element.path, "' ", error));
      }
    }
  }
  if (listener.proxy_protocol && from == nullptr) {
    ctx.problems.Add(map.Find("proxy_protocol")->line,
                     "'proxy_protocol' needs 'proxy_protocol_from': the addresses of the load "
                     "balancers that may send the header (anyone else could claim any address)");
  }
  if (from != nullptr && !listener.proxy_protocol) {
    ctx.problems.Add(from->line,
                     absl::StrCat("'", from->path, "' applies only with a 'proxy_protocol'"));
  }
  return entry;
}

void ReadListeners(const Field& field, Config& config, Context& ctx) {
  if (!ExpectSequence(field, ctx.problems)) return;
  if (field.value.size() == 0) {
    ctx.problems.Add(field.line, "'listeners' must have at least one listener");
    return;
  }
  std::map<std::string, int> bind_lines;  // bind address -> first line
  std::map<std::string, int> name_lines;
  for (const Field& element : file_reading::Elements(field)) {
    if (!ExpectMap(element, ctx.problems)) continue;
    ListenerEntry entry = ReadListener(element, ctx);
    bool duplicate_bind = false;
    if (entry.bind_ok) {
      const std::string bind = entry.listener.bind.ToString();
      const auto [it, inserted] = bind_lines.emplace(bind, entry.bind_line);
      if (!inserted) {
        duplicate_bind = true;
        ctx.problems.Add(entry.bind_line, absl::StrCat("duplicate bind address '", bind,
                                                       "' (also at line ", it->second, ")"));
      }
    }
    // A default name repeats only when the bind does, which is already reported.
    if (!entry.listener.name.empty() && (entry.name_given || !duplicate_bind)) {
      const auto [it, inserted] = name_lines.emplace(entry.listener.name, entry.name_line);
      if (!inserted) {
        ctx.problems.Add(entry.name_line,
                         absl::StrCat("duplicate listener name '", entry.listener.name,
                                      "' (also at line ", it->second, ")"));
      }
    }
    config.listeners.push_back(std::move(entry.listener));
  }
}

std::optional<UpstreamTls> ReadUpstreamTls(const Field& field, Context& ctx) {
  if (!field.value.IsMap()) {
    ctx.problems.Add(field.line, absl::StrCat("'", field.path,
                                              "' must be a map with at least ca (omit it for "
                                              "plain TCP)"));
    return std::nullopt;
  }
  MapReader map(field.value, field.path, field.line, {"ca", "server_name", "cert", "key"},
                ctx.problems);
  UpstreamTls tls;
  // Without a CA moat could not tell the broker from an impostor.
  if (const Field* f = map.Require("ca"))
    tls.ca = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  if (const Field* f = map.Find("server_name"))
    tls.server_name = ReadString(*f, ctx.problems).value_or("");
  const Field* cert = map.Find("cert");
  const Field* key = map.Find("key");
  if (cert) tls.cert = ReadPath(*cert, ctx.base_dir, ctx.problems).value_or("");
  if (key) tls.key = ReadPath(*key, ctx.base_dir, ctx.problems).value_or("");
  if ((cert == nullptr) != (key == nullptr)) {
    const Field* given = cert ? cert : key;
    ctx.problems.Add(given->line, absl::StrCat("'", field.path, ".cert' and '", field.path,
                                               ".key' must be given together"));
  }
  return tls;
}

// upstream.source_addresses: IP literals, each once, of the family the broker's address
// has when that is a literal too (a host name may resolve to either; links then use the
// addresses of the family they connect to).
std::vector<std::string> ReadSourceAddresses(const Field& field, const Endpoint& upstream,
                                             Context& ctx) {
  std::vector<std::string> addresses;
  if (!ExpectSequence(field, ctx.problems)) return addresses;
  std::array<uint8_t, 16> binary{};
  const bool upstream_v4 = inet_pton(AF_INET, upstream.host.c_str(), binary.data()) == 1;
  const bool upstream_v6 = inet_pton(AF_INET6, upstream.host.c_str(), binary.data()) == 1;
  std::map<std::pair<bool, std::array<uint8_t, 16>>, int> seen;  // (IPv4?, address) -> line
  for (const Field& element : file_reading::Elements(field)) {
    const std::optional<std::string> text = ReadString(element, ctx.problems);
    if (!text) continue;
    const bool v4 = inet_pton(AF_INET, text->c_str(), binary.data()) == 1;
    if (!v4 && inet_pton(AF_INET6, text->c_str(), binary.data()) != 1) {
      ctx.problems.Add(element.line, absl::StrCat("'", element.path,
                                                  "' must be an IP address "
                                                  "of this host, not '",
                                                  *text, "'"));
      continue;
    }
    const std::array<uint8_t, 16> any{};
    const bool unspecified =
        std::equal(binary.begin(), binary.begin() + (v4 ? 4 : 16), any.begin());
    const bool multicast = v4 ? (binary[0] & 0xF0) == 0xE0 : binary[0] == 0xFF;
    if (unspecified || multicast) {
      ctx.problems.Add(element.line, absl::StrCat("'", element.path,
                                                  "' must be a unicast address of this host, "
                                                  "not '",
                                                  *text, "'"));
      continue;
    }
    if ((upstream_v4 && !v4) || (upstream_v6 && v4)) {
      ctx.problems.Add(element.line,
                       absl::StrCat("'", element.path, "' ", *text, " is ", v4 ? "IPv4" : "IPv6",
                                    " but upstream.address ", upstream.host, " is ",
                                    upstream_v4 ? "IPv4" : "IPv6"));
      continue;
    }
    // An IPv4 address fills only the first 4 bytes; the rest may still hold an earlier
    // IPv6 address's.
    if (v4) std::fill(binary.begin() + 4, binary.end(), 0);
    if (const auto [it, inserted] = seen.emplace(std::pair{v4, binary}, element.line); !inserted) {
      ctx.problems.Add(element.line, absl::StrCat("'", element.path, "' repeats ", *text,
                                                  " (also at line ", it->second, ")"));
      continue;
    }
    addresses.push_back(*text);
  }
  return addresses;
}

// A server list long enough for any cluster moat fronts, short enough that the metrics'
// `server` label stays small.
constexpr size_t kMaxUpstreamServers = 64;

// One item of upstream.servers: "host:port", or {address, tls} for a server with its
// own TLS settings.
std::optional<UpstreamServer> ReadUpstreamServer(const Field& item, Context& ctx) {
  UpstreamServer server;
  server.line = item.line;
  if (!item.value.IsMap()) {
    std::optional<Endpoint> address = ReadEndpoint(item, ctx.problems);
    if (!address) return std::nullopt;
    server.address = *std::move(address);
    return server;
  }
  MapReader map(item.value, item.path, item.line, {"address", "tls"}, ctx.problems);
  const Field* address_field = map.Require("address");
  if (address_field == nullptr) return std::nullopt;
  std::optional<Endpoint> address = ReadEndpoint(*address_field, ctx.problems);
  if (!address) return std::nullopt;
  server.address = *std::move(address);
  if (const Field* f = map.Find("tls")) server.tls = ReadUpstreamTls(*f, ctx);
  return server;
}

// upstream.address (one server) or upstream.servers (a list), never both: which one
// would be meant is a guess.
void ReadUpstreamServers(MapReader& map, Upstream& upstream, Context& ctx) {
  const Field* address = map.Find("address");
  const Field* servers = map.Find("servers");
  if (address != nullptr && servers != nullptr) {
    ctx.problems.Add(servers->line,
                     absl::StrCat("'upstream.address' (line ", address->line,
                                  ") and 'upstream.servers' are both given: use one (address is "
                                  "a list of one server)"));
    return;
  }
  if (address == nullptr && servers == nullptr) {
    map.Require("address");  // reports it missing
    return;
  }
  if (address != nullptr) {
    if (std::optional<Endpoint> endpoint = ReadEndpoint(*address, ctx.problems)) {
      upstream.servers.push_back(
          {.address = *std::move(endpoint), .tls = {}, .line = address->line});
    }
    return;
  }
  if (!ExpectSequence(*servers, ctx.problems)) return;
  if (servers->value.size() == 0 || servers->value.size() > kMaxUpstreamServers) {
    ctx.problems.Add(servers->line,
                     absl::StrCat("'upstream.servers' must list 1 to ", kMaxUpstreamServers,
                                  " servers, got ", servers->value.size()));
    return;
  }
  std::map<std::string, int> seen;
  for (const Field& item : file_reading::Elements(*servers)) {
    std::optional<UpstreamServer> server = ReadUpstreamServer(item, ctx);
    if (!server) continue;
    const auto [it, inserted] = seen.emplace(server->address.ToString(), item.line);
    if (!inserted) {
      ctx.problems.Add(item.line, absl::StrCat("duplicate upstream server '", it->first,
                                               "' (also at line ", it->second, ")"));
      continue;
    }
    upstream.servers.push_back(*std::move(server));
  }
}

void ReadUpstream(const Field& field, Upstream& upstream, Context& ctx) {
  if (!ExpectMap(field, ctx.problems)) return;
  MapReader map(field.value, field.path, field.line,
                {"address", "servers", "balance", "tls", "connect_timeout", "unavailable_wait",
                 "on_unavailable", "credentials", "username", "password_file", "proxy_protocol",
                 "source_addresses"},
                ctx.problems);
  ReadUpstreamServers(map, upstream, ctx);
  if (const Field* f = map.Find("tls")) upstream.tls = ReadUpstreamTls(*f, ctx);
  // A server without a `tls:` of its own uses the shared one.
  for (UpstreamServer& server : upstream.servers) {
    if (!server.tls) server.tls = upstream.tls;
  }
  if (!upstream.servers.empty()) upstream.address = upstream.servers.front().address;
  if (const Field* f = map.Find("balance")) {
    upstream.balance =
        ReadEnum<UpstreamBalance>(*f,
                                  {{"client_id", UpstreamBalance::kClientId},
                                   {"round_robin", UpstreamBalance::kRoundRobin},
                                   {"least_connections", UpstreamBalance::kLeastConnections}},
                                  ctx.problems)
            .value_or(upstream.balance);
  }
  if (const Field* f = map.Find("connect_timeout")) {
    upstream.connect_timeout = ReadDuration(*f, milliseconds(1), kMaxDuration, ctx.problems)
                                   .value_or(upstream.connect_timeout);
  }
  if (const Field* f = map.Find("proxy_protocol")) {
    upstream.proxy_protocol =
        ReadEnum<UpstreamProxyProtocol>(*f,
                                        {{"none", UpstreamProxyProtocol::kNone},
                                         {"v1", UpstreamProxyProtocol::kV1},
                                         {"v2", UpstreamProxyProtocol::kV2}},
                                        ctx.problems)
            .value_or(upstream.proxy_protocol);
  }
  if (const Field* f = map.Find("source_addresses")) {
    upstream.source_addresses = ReadSourceAddresses(*f, upstream.address, ctx);
  }
  if (const Field* f = map.Find("unavailable_wait")) {
    upstream.unavailable_wait = ReadDuration(*f, milliseconds(0), kMaxDuration, ctx.problems)
                                    .value_or(upstream.unavailable_wait);
  }
  if (const Field* f = map.Find("on_unavailable")) {
    upstream.on_unavailable =
        ReadEnum<UpstreamUnavailable>(
            *f,
            {{"close", UpstreamUnavailable::kClose}, {"connack", UpstreamUnavailable::kConnack}},
            ctx.problems)
            .value_or(upstream.on_unavailable);
  }
  const Field* credentials = map.Find("credentials");
  if (credentials) {
    upstream.credentials =
        ReadEnum<UpstreamCredentials>(*credentials,
                                      {{"passthrough", UpstreamCredentials::kPassthrough},
                                       {"strip", UpstreamCredentials::kStrip},
                                       {"replace", UpstreamCredentials::kReplace}},
                                      ctx.problems)
            .value_or(upstream.credentials);
  }
  const Field* username = map.Find("username");
  const Field* password_file = map.Find("password_file");
  if (username) upstream.username = ReadString(*username, ctx.problems).value_or("");
  if (password_file) {
    upstream.password_file = ReadPath(*password_file, ctx.base_dir, ctx.problems).value_or("");
  }
  const bool replace = upstream.credentials == UpstreamCredentials::kReplace;
  if (replace && username == nullptr) {
    ctx.problems.Add(credentials->line,
                     "upstream.credentials: replace needs upstream.username (and usually "
                     "upstream.password_file)");
  }
  if (!replace && (username || password_file)) {
    const Field* given = username ? username : password_file;
    ctx.problems.Add(given->line,
                     "'" + given->path + "' is only used with upstream.credentials: replace");
  }
}

void ReadBan(const Field& field, Auth& auth, Context& ctx) {
  if (field.value.IsScalar() && field.value.Scalar() == "off") {
    auth.ban.reset();
    return;
  }
  if (!ExpectMap(field, ctx.problems)) return;
  MapReader map(field.value, field.path, field.line, {"failures", "window", "duration"},
                ctx.problems);
  Ban ban;
  if (const Field* f = map.Find("failures")) {
    ban.failures = static_cast<uint32_t>(ReadInt(*f, 1, 1'000'000, ctx.problems).value_or(5));
  }
  if (const Field* f = map.Find("window")) {
    ban.window = ReadDuration(*f, milliseconds(1), kMaxDuration, ctx.problems).value_or(ban.window);
  }
  if (const Field* f = map.Find("duration")) {
    ban.duration =
        ReadDuration(*f, milliseconds(1), kMaxDuration, ctx.problems).value_or(ban.duration);
  }
  auth.ban = ban;
}

std::vector<std::string> ReadNames(const Field& field, Context& ctx) {
  std::vector<std::string> names;
  if (!field.value.IsSequence()) {
    if (auto name = file_reading::ReadNonEmptyString(field, ctx.problems)) names.push_back(*name);
    return names;
  }
  for (const Field& item : file_reading::Elements(field)) {
    if (auto name = file_reading::ReadNonEmptyString(item, ctx.problems)) names.push_back(*name);
  }
  if (names.empty()) ctx.problems.Add(field.line, "'" + field.path + "' is an empty list");
  return names;
}

void ReadJwt(const Field& field, Auth& auth, Context& ctx) {
  if (!ExpectMap(field, ctx.problems)) return;
  MapReader map(field.value, field.path, field.line,
                {"jwks_file", "issuer", "audience", "algorithms", "identity_claim", "groups_claim",
                 "clock_skew", "match_username"},
                ctx.problems);
  Jwt jwt;
  jwt.line = field.line;
  if (const Field* f = map.Require("jwks_file")) {
    jwt.jwks_file = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  }
  // Without both, any issuer's token for any service would do.
  if (const Field* f = map.Require("issuer")) {
    jwt.rules.issuer = file_reading::ReadNonEmptyString(*f, ctx.problems).value_or("");
  }
  if (const Field* f = map.Require("audience")) jwt.rules.audiences = ReadNames(*f, ctx);
  if (const Field* f = map.Find("algorithms")) {
    jwt.rules.algorithms.clear();
    for (const std::string& name : ReadNames(*f, ctx)) {
      if (const auto algorithm = policy::JwsAlgorithmFromName(name)) {
        jwt.rules.algorithms.push_back(*algorithm);
      } else {
        ctx.problems.Add(f->line, absl::StrCat("'", f->path, "': ", file_reading::Quote(name),
                                               " is not accepted: moat verifies RS256, ES256 "
                                               "and EdDSA only (never none or HMAC)"));
      }
    }
  }
  if (const Field* f = map.Find("identity_claim")) {
    jwt.rules.identity_claim =
        file_reading::ReadNonEmptyString(*f, ctx.problems).value_or(jwt.rules.identity_claim);
  }
  if (const Field* f = map.Find("groups_claim")) {
    jwt.rules.groups_claim = file_reading::ReadNonEmptyString(*f, ctx.problems).value_or("");
  }
  if (const Field* f = map.Find("clock_skew")) {
    const auto skew = ReadDuration(*f, milliseconds(0), std::chrono::minutes(5), ctx.problems);
    if (skew) {
      jwt.rules.clock_skew_seconds =
          std::chrono::duration_cast<std::chrono::seconds>(*skew).count();
    }
  }
  if (const Field* f = map.Find("match_username")) {
    jwt.match_username = ReadBool(*f, ctx.problems).value_or(false);
  }
  auth.jwt = std::move(jwt);
}

void ReadAuth(const Field& field, Auth& auth, Context& ctx) {
  if (IsEmptySection(field) || !ExpectMap(field, ctx.problems)) return;
  MapReader map(
      field.value, field.path, field.line,
      {"password_file", "allow_anonymous", "require", "certificate_identity", "client_id_pattern",
       "failure_delay", "ban", "disconnect_revoked", "hash_threads", "shared_client_ids", "jwt"},
      ctx.problems);
  if (const Field* f = map.Find("password_file")) {
    auth.password_file = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  }
  if (const Field* f = map.Find("allow_anonymous")) {
    auth.allow_anonymous = ReadBool(*f, ctx.problems).value_or(false);
  }
  if (const Field* f = map.Find("jwt")) ReadJwt(*f, auth, ctx);
  using policy::AuthRequirement;
  const Field* require = map.Find("require");
  // With tokens configured and nothing said, tokens are what is asked for.
  if (auth.jwt && require == nullptr) auth.require = AuthRequirement::kToken;
  if (require != nullptr) {
    auth.require = ReadEnum<AuthRequirement>(
                       *require,
                       {{"password", AuthRequirement::kPassword},
                        {"certificate", AuthRequirement::kCertificate},
                        {"certificate_and_password", AuthRequirement::kCertificateAndPassword},
                        {"token", AuthRequirement::kToken},
                        {"password_or_token", AuthRequirement::kPasswordOrToken},
                        {"certificate_and_token", AuthRequirement::kCertificateAndToken}},
                       ctx.problems)
                       .value_or(auth.require);
    const bool takes_token = policy::TakesToken(auth.require);
    if (auth.require == AuthRequirement::kPasswordOrToken && auth.password_file.empty()) {
      ctx.problems.Add(require->line,
                       "auth.require: password_or_token needs auth.password_file for the "
                       "passwords");
    }
    if (takes_token && !auth.jwt) {
      ctx.problems.Add(require->line, "auth.require: " + require->value.Scalar() +
                                          " needs auth.jwt (the keys and issuer to check "
                                          "tokens against)");
    } else if (!takes_token && auth.jwt) {
      ctx.problems.Add(require->line, "auth.require: " + require->value.Scalar() +
                                          " never accepts a token, but auth.jwt is set: use "
                                          "token, password_or_token or certificate_and_token");
    }
  }
  const Field* identity = map.Find("certificate_identity");
  if (identity) {
    auth.certificate_identity =
        ReadEnum<CertificateIdentity>(*identity,
                                      {{"none", CertificateIdentity::kNone},
                                       {"cn", CertificateIdentity::kCommonName},
                                       {"san_dns", CertificateIdentity::kSanDns},
                                       {"san_email", CertificateIdentity::kSanEmail},
                                       {"san_uri", CertificateIdentity::kSanUri}},
                                      ctx.problems)
            .value_or(auth.certificate_identity);
  }
  if (policy::NeedsCertificate(auth.require) &&
      auth.certificate_identity == CertificateIdentity::kNone) {
    const Field* at = identity ? identity : map.Find("require");
    ctx.problems.Add(at->line,
                     "auth.require needs a certificate: set auth.certificate_identity "
                     "to cn, san_dns, san_email or san_uri");
  }
  if (const Field* f = map.Find("client_id_pattern")) {
    auth.client_id_pattern = ReadString(*f, ctx.problems).value_or("");
  }
  if (const Field* f = map.Find("failure_delay")) {
    auth.failure_delay = ReadDuration(*f, milliseconds(0), std::chrono::minutes(1), ctx.problems)
                             .value_or(auth.failure_delay);
  }
  if (const Field* f = map.Find("ban")) ReadBan(*f, auth, ctx);
  if (const Field* f = map.Find("disconnect_revoked")) {
    auth.disconnect_revoked = ReadBool(*f, ctx.problems).value_or(true);
  }
  if (const Field* f = map.Find("hash_threads")) {
    auth.hash_threads = static_cast<int>(ReadInt(*f, 0, 256, ctx.problems).value_or(0));
  }
  if (const Field* f = map.Find("shared_client_ids")) {
    auth.shared_client_ids = ReadBool(*f, ctx.problems).value_or(false);
    if (auth.shared_client_ids) {
      ctx.Warn(f->line,
               "auth.shared_client_ids: any client that logs in may take over another "
               "identity's client id and, with a persistent session, its queued messages");
    }
  }
}

void ReadPolicy(const Field& field, Policy& policy, Context& ctx) {
  if (IsEmptySection(field) || !ExpectMap(field, ctx.problems)) return;
  MapReader map(
      field.value, field.path, field.line,
      {"acl_file", "file", "allow_all", "on_denied_publish", "mode", "subscription_grant"},
      ctx.problems);
  if (const Field* f = map.Find("mode")) {
    policy.audit_only =
        ReadEnum<bool>(*f, {{"enforce", false}, {"audit", true}}, ctx.problems).value_or(false);
  }
  if (const Field* f = map.Find("on_denied_publish")) {
    policy.on_denied_publish =
        ReadEnum<DeniedPublish>(
            *f, {{"drop", DeniedPublish::kDrop}, {"disconnect", DeniedPublish::kDisconnect}},
            ctx.problems)
            .value_or(policy.on_denied_publish);
  }
  if (const Field* f = map.Find("subscription_grant")) {
    policy.subscription_grant = ReadEnum<policy::SubscriptionGrant>(
                                    *f,
                                    {{"any_readable", policy::SubscriptionGrant::kAnyReadable},
                                     {"all_readable", policy::SubscriptionGrant::kAllReadable}},
                                    ctx.problems)
                                    .value_or(policy.subscription_grant);
  }
  if (const Field* f = map.Find("acl_file")) {
    policy.acl_file = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  }
  if (const Field* f = map.Find("file")) {
    policy.file = ReadPath(*f, ctx.base_dir, ctx.problems).value_or("");
  }
  if (const Field* f = map.Find("allow_all")) {
    policy.allow_all = ReadBool(*f, ctx.problems).value_or(false);
    if (policy.allow_all && (map.Find("acl_file") || map.Find("file"))) {
      ctx.problems.Add(f->line,
                       "'policy.allow_all' grants everything: it cannot stand next to "
                       "'policy.acl_file' or 'policy.file'");
    } else if (policy.allow_all) {
      ctx.Warn(f->line,
               "policy.allow_all: every client that logs in may publish and subscribe to any "
               "topic, $SYS included");
    }
  }
}

void ReadMetrics(const Field& field, Metrics& metrics, Context& ctx) {
  if (IsEmptySection(field) || !ExpectMap(field, ctx.problems)) return;
  MapReader map(field.value, field.path, field.line,
                {"bind", "bearer_token_file", "basic_auth_file", "tls"}, ctx.problems);
  if (const Field* f = map.Find("bind")) metrics.bind = ReadEndpoint(*f, ctx.problems);
  if (const Field* f = map.Find("tls")) {
    metrics.tls = ReadServerTls(*f, ctx);
    metrics.tls_line = f->line;
    // Certificates for an endpoint that is never opened would be checked, reloaded and
    // reported as expiring for nothing; most likely the bind line was lost.
    if (map.Find("bind") == nullptr) {
      ctx.problems.Add(f->line, "'metrics.tls' needs 'metrics.bind' (the address to serve on)");
    }
  }
  const Field* bearer = map.Find("bearer_token_file");
  const Field* basic = map.Find("basic_auth_file");
  if (bearer)
    metrics.bearer_token_file = ReadPath(*bearer, ctx.base_dir, ctx.problems).value_or("");
  if (basic) metrics.basic_auth_file = ReadPath(*basic, ctx.base_dir, ctx.problems).value_or("");
  if (bearer && basic) {
    ctx.problems.Add(basic->line, "metrics: give bearer_token_file or basic_auth_file, not both");
  }
}

// A socket address holds at most this many bytes of path (sockaddr_un::sun_path, less
// its NUL).
constexpr size_t kMaxSocketPath = 107;

void ReadSyslog(const MapReader& map, Audit& audit, Context& ctx) {
  if (const Field* f = map.Find("syslog"))
    audit.syslog = ReadBool(*f, ctx.problems).value_or(false);
  if (const Field* f = map.Find("syslog_socket")) {
    // Not required to exist: syslogd may start after moat, and a missing socket only
    // costs the lines sent meanwhile (counted).
    if (auto text = ReadString(*f, ctx.problems)) {
      std::filesystem::path path(*text);
      audit.syslog_socket = path.is_absolute() ? *text : (ctx.base_dir / path).string();
      if (audit.syslog_socket.size() > kMaxSocketPath) {
        ctx.problems.Add(f->line,
                         absl::StrCat("'", f->path, "': the path is ", audit.syslog_socket.size(),
                                      " bytes long; a socket's may be at most ", kMaxSocketPath));
      }
    }
  }
  if (const Field* f = map.Find("syslog_facility")) {
    audit.syslog_facility = ReadEnum<int>(*f,
                                          {{"user", 1},
                                           {"daemon", 3},
                                           {"auth", 4},
                                           {"authpriv", 10},
                                           {"local0", 16},
                                           {"local1", 17},
                                           {"local2", 18},
                                           {"local3", 19},
                                           {"local4", 20},
                                           {"local5", 21},
                                           {"local6", 22},
                                           {"local7", 23}},
                                          ctx.problems)
                                .value_or(3);
  }
  // Settings for a sink that is off would do nothing: most likely "syslog: true" was lost.
  for (std::string_view key : {"syslog_socket", "syslog_facility"}) {
    const Field* f = map.Find(key);
    if (f != nullptr && !audit.syslog) {
      ctx.problems.Add(f->line, absl::StrCat("'", f->path, "' needs 'audit.syslog: true'"));
    }
  }
}

void ReadAudit(const Field& field, Audit& audit, Context& ctx) {
  if (IsEmptySection(field) || !ExpectMap(field, ctx.problems)) return;
  MapReader map(field.value, field.path, field.line,
                {"file", "rate_per_second", "burst", "syslog", "syslog_socket", "syslog_facility"},
                ctx.problems);
  if (const Field* f = map.Find("file")) {
    // The file may not exist yet: resolve it, but do not require it.
    if (auto text = ReadString(*f, ctx.problems)) {
      std::filesystem::path path(*text);
      audit.file = *text == "-" || path.is_absolute() ? *text : (ctx.base_dir / path).string();
    }
  }
  if (const Field* f = map.Find("rate_per_second")) {
    audit.rate_per_second =
        static_cast<double>(ReadInt(*f, 1, 1'000'000, ctx.problems).value_or(20));
  }
  if (const Field* f = map.Find("burst")) {
    audit.burst = static_cast<double>(ReadInt(*f, 1, 1'000'000, ctx.problems).value_or(100));
  }
  ReadSyslog(map, audit, ctx);
}

// A rate and its burst (a second's worth unless given; a burst without its rate is an
// error, as it would limit nothing).
void ReadRate(const MapReader& map, std::string_view rate_key, std::string_view burst_key,
              policy::Rate& rate, Context& ctx) {
  using policy::kLargestRate;
  if (const Field* f = map.Find(rate_key)) {
    rate.per_second = ReadNumber(*f, 0, kLargestRate, ctx.problems).value_or(0);
  }
  rate.burst = policy::Rate::SecondsWorth(rate.per_second);
  if (const Field* f = map.Find(burst_key)) {
    if (rate.unlimited()) {
      ctx.problems.Add(f->line,
                       absl::StrCat("'limits.", std::string(burst_key), "' needs a 'limits.",
                                    std::string(rate_key), "' above 0"));
    } else {
      rate.burst = ReadNumber(*f, 1, kLargestRate, ctx.problems).value_or(rate.burst);
    }
  }
}

void ReadLimits(const Field& field, Limits& limits, Context& ctx) {
  if (IsEmptySection(field) || !ExpectMap(field, ctx.problems)) return;
  MapReader map(field.value, field.path, field.line,
                {"connect_timeout",
                 "tls_handshake_timeout",
                 "drain_timeout",
                 "max_packet_size",
                 "max_connect_packet_size",
                 "max_preauth_memory",
                 "max_connections",
                 "max_connections_per_address",
                 "connection_rate_per_address",
                 "connection_burst_per_address",
                 "max_keepalive",
                 "write_timeout",
                 "tcp_keepalive",
                 "max_subscriptions",
                 "max_topic_length",
                 "max_topic_levels",
                 "max_filters_per_subscribe",
                 "max_inflight",
                 "messages_per_second",
                 "message_burst",
                 "bytes_per_second",
                 "byte_burst",
                 "on_rate_exceeded"},
                ctx.problems);
  auto duration = [&](std::string_view key, milliseconds min, milliseconds& out) {
    if (const Field* f = map.Find(key)) {
      out = ReadDuration(*f, min, kMaxDuration, ctx.problems).value_or(out);
    }
  };
  duration("connect_timeout", milliseconds(1), limits.connect_timeout);
  duration("tls_handshake_timeout", milliseconds(1), limits.tls_handshake_timeout);
  duration("drain_timeout", milliseconds(0), limits.drain_timeout);  // 0: close at once
  if (const Field* f = map.Find("max_packet_size")) {
    limits.max_packet_size = static_cast<uint32_t>(
        ReadInt(*f, 2, kLargestMqttPacket, ctx.problems).value_or(limits.max_packet_size));
  }
  auto count = [&](std::string_view key, int64_t min, int64_t max, auto& out) {
    using Out = std::remove_reference_t<decltype(out)>;
    if (const Field* f = map.Find(key)) {
      out = static_cast<Out>(ReadInt(*f, min, max, ctx.problems).value_or(out));
    }
  };
  count("max_connect_packet_size", 2, kLargestMqttPacket, limits.max_connect_packet_size);
  count("max_preauth_memory", 64 * 1024, int64_t{1} << 40, limits.max_preauth_memory);
  count("max_connections", 1, UINT32_MAX, limits.max_connections);
  count("max_connections_per_address", 1, UINT32_MAX, limits.max_connections_per_address);
  count("connection_burst_per_address", 1, UINT32_MAX, limits.connection_burst_per_address);
  SessionQuotas& session = limits.session;
  count("max_subscriptions", 1, UINT32_MAX, session.max_subscriptions);
  // Topics and filters are UTF-8 strings of at most 65535 bytes [MQTT-1.5.4], so at most
  // 65535 levels; a larger limit would mean nothing.
  count("max_topic_length", 1, 65535, session.max_topic_length);
  count("max_topic_levels", 1, 65535, session.max_topic_levels);
  count("max_filters_per_subscribe", 1, UINT32_MAX, session.max_filters_per_subscribe);
  // Receive Maximum is a Two Byte Integer, never 0 [MQTT-3.2.2.3.3].
  count("max_inflight", 1, 65535, session.max_inflight);
  if (const Field* f = map.Find("connection_rate_per_address")) {
    limits.connection_rate_per_address = static_cast<double>(
        ReadInt(*f, 1, 1'000'000, ctx.problems)
            .value_or(static_cast<int64_t>(limits.connection_rate_per_address)));
  }
  ReadRate(map, "messages_per_second", "message_burst", limits.rates.messages, ctx);
  ReadRate(map, "bytes_per_second", "byte_burst", limits.rates.bytes, ctx);
  if (const Field* f = map.Find("on_rate_exceeded")) {
    limits.rates.on_exceeded =
        ReadEnum<RateExceeded>(
            *f, {{"throttle", RateExceeded::kThrottle}, {"disconnect", RateExceeded::kDisconnect}},
            ctx.problems)
            .value_or(limits.rates.on_exceeded);
  }
  milliseconds max_keepalive = limits.max_keepalive;
  duration("max_keepalive", milliseconds(1000), max_keepalive);
  limits.max_keepalive = std::chrono::duration_cast<std::chrono::seconds>(max_keepalive);
  if (limits.max_keepalive > std::chrono::seconds(65535)) {
    ctx.problems.Add(map.Find("max_keepalive")->line,
                     "'limits.max_keepalive' is at most 65535s, the largest keep-alive MQTT has");
  }
  duration("write_timeout", milliseconds(1), limits.write_timeout);
  milliseconds tcp_keepalive = limits.tcp_keepalive;
  duration("tcp_keepalive", milliseconds(0), tcp_keepalive);
  limits.tcp_keepalive = std::chrono::duration_cast<std::chrono::seconds>(tcp_keepalive);
  if (limits.connect_timeout < limits.tls_handshake_timeout) {
    // The handshake is part of the login: its limit cannot outlast the login's.
    limits.tls_handshake_timeout = limits.connect_timeout;
  }
}

void ReadRoot(const YAML::Node& root, Config& config, Context& ctx) {
  if (!root.IsMap()) {
    ctx.problems.Add(LineOf(root), root.IsNull() ? "the config is empty"
                                                 : "the top level must be a map of settings");
    return;
  }
  MapReader map(root, "", 1,
                {"listeners", "upstream", "auth", "policy", "metrics", "admin", "audit", "limits",
                 "threads", "watch_files"},
                ctx.problems);
  if (const Field* f = map.Require("listeners")) ReadListeners(*f, config, ctx);
  if (const Field* f = map.Require("upstream")) ReadUpstream(*f, config.upstream, ctx);
  if (const Field* f = map.Find("auth")) ReadAuth(*f, config.auth, ctx);
  if (const Field* f = map.Find("policy")) ReadPolicy(*f, config.policy, ctx);
  if (const Field* f = map.Find("metrics")) {
    ReadMetrics(*f, config.metrics, ctx);
    if (config.metrics.bind) {
      for (const Listener& listener : config.listeners) {
        if (listener.bind.ToString() == config.metrics.bind->ToString()) {
          ctx.problems.Add(f->line, absl::StrCat("'metrics.bind' '", listener.bind.ToString(),
                                                 "' is also the bind address of listener '",
                                                 listener.name, "'"));
        }
      }
    }
  }
  if (const Field* f = map.Find("admin")) {
    ReadAdmin(
        *f, config.admin, ctx.base_dir, ctx.problems,
        [&](const Field& tls) { return ReadServerTls(tls, ctx); },
        [&](int line, std::string_view message) { ctx.Warn(line, message); });
    for (const Listener& listener : config.listeners) {
      if (config.admin.bind && listener.bind.ToString() == config.admin.bind->ToString()) {
        ctx.problems.Add(
            f->line, absl::StrCat("'admin.bind' '", listener.bind.ToString(),
                                  "' is also the bind address of listener '", listener.name, "'"));
      }
    }
  }
  if (const Field* f = map.Find("audit")) ReadAudit(*f, config.audit, ctx);
  if (const Field* f = map.Find("limits")) ReadLimits(*f, config.limits, ctx);
  if (const Field* f = map.Find("threads")) {
    config.threads = static_cast<int>(ReadInt(*f, 0, kMaxThreads, ctx.problems).value_or(0));
  }
  if (const Field* f = map.Find("watch_files")) {
    config.watch_files = ReadBool(*f, ctx.problems).value_or(false);
  }
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "config file");
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

absl::StatusOr<Config> ParseConfig(std::string_view text, const std::string& path) {
  Problems problems(path, text);
  Config config;
  config.path = path;
  std::filesystem::path base_dir = std::filesystem::path(path).parent_path();
  if (base_dir.empty()) base_dir = ".";
  Context ctx{problems, base_dir, config};
  try {
    if (const std::optional<YAML::Node> root = file_reading::ParseDocument(text, problems)) {
      ReadRoot(*root, config, ctx);
      config.fixed_settings = ReadFixedSettings(*root);
      config.upstream_yaml = SectionYaml(*root, "upstream");
    }
  } catch (const YAML::Exception& e) {
    // Anything else yaml-cpp refuses still points at a line.
    problems.Add(file_reading::LineOf(e.mark),
                 absl::StrCat("YAML syntax error: ", file_reading::ErrorMessage(e)));
  }
  if (!problems.empty()) return problems.ToStatus();
  if (config.policy.acl_file.empty() && config.policy.file.empty() && !config.policy.allow_all) {
    ctx.Warn(1,
             "no policy: every PUBLISH, SUBSCRIBE and Will is denied (set policy.acl_file or "
             "policy.file, or policy.allow_all: true)");
  }
  return config;
}

}  // namespace moat::config
