// LoadConfig(): the keys of CONTRACT.md and deploy/moat.example.yaml, and the promise
// that every problem in a file is reported at once as "FILE:LINE: message".
#include "proxy/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/config/config_fixture.h"

namespace moat::config {
namespace {

using std::chrono::milliseconds;
using test::ConfigTest;
using test::kMinimal;
using ::testing::ElementsAre;

// ---- Valid files ------------------------------------------------------------------------

TEST_F(ConfigTest, LoadsEveryKey) {
  for (const char* file :
       {"certs/server.crt", "certs/server.key", "certs/ca.crt", "certs/client.crt",
        "certs/client.key", "passwd", "acl", "policy.yaml"}) {
    dir_.Write(file, "x");
  }
  const absl::StatusOr<Config> config = Load(R"(
listeners:
  - name: public
    bind: "0.0.0.0:8883"
    tls:
      cert: certs/server.crt
      key: certs/server.key
      client_ca: certs/ca.crt
      require_client_cert: true
    proxy_protocol: v2
    proxy_protocol_from: ["10.0.0.0/8", "2001:db8::/32"]
  - bind: "[::1]:8083"
    protocol: websocket
    websocket_path: /ws
upstream:
  address: "broker.local:1883"
  connect_timeout: 500ms
  tls:
    ca: certs/ca.crt
    server_name: broker.local
    cert: certs/client.crt
    key: certs/client.key
auth:
  password_file: passwd
  allow_anonymous: false
  shared_client_ids: true
policy:
  acl_file: acl
  file: policy.yaml
metrics:
  bind: "127.0.0.1:9100"
threads: 4
limits:
  connect_timeout: 2m
  tls_handshake_timeout: 3s
  drain_timeout: 1h30m
  max_packet_size: 65536
  max_connect_packet_size: 4096
  max_preauth_memory: 1048576
  max_connections: 500
  max_connections_per_address: 20
  connection_rate_per_address: 5
  connection_burst_per_address: 10
  max_keepalive: 10m
  write_timeout: 15s
  tcp_keepalive: 0s
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string d = dir_.path() + "/";
  ASSERT_EQ(config->listeners.size(), 2u);
  const Listener& a = config->listeners[0];
  EXPECT_EQ(a.name, "public");
  EXPECT_EQ(a.bind.host, "0.0.0.0");
  EXPECT_EQ(a.bind.port, 8883);
  ASSERT_TRUE(a.tls.has_value());
  EXPECT_EQ(a.tls->cert, d + "certs/server.crt");
  EXPECT_EQ(a.tls->key, d + "certs/server.key");
  EXPECT_EQ(a.tls->client_ca, d + "certs/ca.crt");
  EXPECT_TRUE(a.tls->require_client_cert);
  EXPECT_EQ(a.protocol, ListenerProtocol::kMqtt);
  EXPECT_EQ(a.proxy_protocol, proxy_protocol::ProxyProtocolVersionAllowed::kV2);
  ASSERT_EQ(a.proxy_protocol_from.size(), 2u);
  EXPECT_EQ(a.proxy_protocol_from[0].prefix, 96 + 8);  // IPv4 kept as IPv4-mapped IPv6
  EXPECT_EQ(a.proxy_protocol_from[1].prefix, 32);
  const Listener& b = config->listeners[1];
  EXPECT_EQ(b.name, "[::1]:8083");
  EXPECT_EQ(b.bind.host, "::1");
  EXPECT_FALSE(b.tls.has_value());
  EXPECT_EQ(b.protocol, ListenerProtocol::kWebSocket);
  EXPECT_EQ(b.websocket_path, "/ws");
  EXPECT_EQ(b.proxy_protocol, std::nullopt);

  EXPECT_EQ(config->upstream.address.ToString(), "broker.local:1883");
  EXPECT_EQ(config->upstream.connect_timeout, milliseconds(500));
  ASSERT_TRUE(config->upstream.tls.has_value());
  EXPECT_EQ(config->upstream.tls->ca, d + "certs/ca.crt");
  EXPECT_EQ(config->upstream.tls->server_name, "broker.local");
  EXPECT_EQ(config->upstream.tls->cert, d + "certs/client.crt");
  EXPECT_EQ(config->upstream.tls->key, d + "certs/client.key");
  EXPECT_EQ(config->auth.password_file, d + "passwd");
  EXPECT_FALSE(config->auth.allow_anonymous);
  EXPECT_TRUE(config->auth.shared_client_ids);
  EXPECT_EQ(config->policy.acl_file, d + "acl");
  EXPECT_EQ(config->policy.file, d + "policy.yaml");
  ASSERT_TRUE(config->metrics.bind.has_value());
  EXPECT_EQ(config->metrics.bind->ToString(), "127.0.0.1:9100");
  EXPECT_EQ(config->threads, 4);
  EXPECT_EQ(config->limits.connect_timeout, milliseconds(120'000));
  EXPECT_EQ(config->limits.tls_handshake_timeout, milliseconds(3'000));
  EXPECT_EQ(config->limits.drain_timeout, milliseconds(5'400'000));
  EXPECT_EQ(config->limits.max_packet_size, 65536u);
  EXPECT_EQ(config->limits.max_connections, 500u);
  EXPECT_EQ(config->limits.max_connect_packet_size, 4096u);
  EXPECT_EQ(config->limits.max_preauth_memory, 1048576u);
  EXPECT_EQ(config->limits.max_connections_per_address, 20u);
  EXPECT_EQ(config->limits.connection_rate_per_address, 5);
  EXPECT_EQ(config->limits.connection_burst_per_address, 10u);
  EXPECT_EQ(config->limits.max_keepalive, std::chrono::seconds(600));
  EXPECT_EQ(config->limits.write_timeout, milliseconds(15'000));
  EXPECT_EQ(config->limits.tcp_keepalive, std::chrono::seconds(0));
}

TEST_F(ConfigTest, FillsDefaultsForOmittedKeys) {
  const absl::StatusOr<Config> config = Load(kMinimal);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 1u);
  const Listener& listener = config->listeners[0];
  EXPECT_EQ(listener.name, "127.0.0.1:1884");  // the bind address
  EXPECT_FALSE(listener.tls.has_value());
  EXPECT_EQ(listener.protocol, ListenerProtocol::kMqtt);
  EXPECT_EQ(listener.websocket_path, "/mqtt");
  EXPECT_EQ(listener.proxy_protocol, std::nullopt);
  EXPECT_FALSE(config->upstream.tls.has_value());
  EXPECT_EQ(config->upstream.connect_timeout, milliseconds(5'000));
  EXPECT_TRUE(config->auth.password_file.empty());
  EXPECT_FALSE(config->auth.allow_anonymous);
  EXPECT_TRUE(config->policy.acl_file.empty());
  EXPECT_FALSE(config->metrics.bind.has_value());
  EXPECT_EQ(config->threads, 0);
  EXPECT_EQ(config->limits.connect_timeout, milliseconds(10'000));
  EXPECT_EQ(config->limits.drain_timeout, milliseconds(5'000));
  EXPECT_EQ(config->limits.max_packet_size, 16u * 1024 * 1024);
}

TEST_F(ConfigTest, TreatsEmptyOptionalSectionsAsOmitted) {
  // What is left when every line under a section is commented out.
  const absl::StatusOr<Config> config =
      Load(std::string(kMinimal) + "auth:\npolicy:\nmetrics:\nlimits:\n");
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST_F(ConfigTest, ResolvesRelativePathsAgainstTheConfigFolder) {
  dir_.Write("etc/certs/server.crt", "x");
  dir_.Write("etc/certs/server.key", "x");
  dir_.Write("elsewhere/passwd", "x");
  const std::string config_path = dir_.Write("etc/moat.yaml",
                                             "listeners:\n"
                                             "  - bind: \"0.0.0.0:8883\"\n"
                                             "    tls:\n"
                                             "      cert: certs/server.crt\n"
                                             "      key: ./certs/../certs/server.key\n"
                                             "upstream:\n"
                                             "  address: \"127.0.0.1:1883\"\n"
                                             "auth:\n"
                                             "  password_file: " +
                                                 dir_.path() + "/elsewhere/passwd\n");
  // Loaded by a relative name from another working directory: paths must still resolve
  // against the config's folder, and come out absolute so a later chdir cannot matter.
  const std::string old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  const absl::StatusOr<Config> config = LoadConfig("etc/moat.yaml");
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->path, "etc/moat.yaml");
  EXPECT_EQ(config->listeners[0].tls->cert, dir_.path() + "/etc/certs/server.crt");
  EXPECT_EQ(config->listeners[0].tls->key, dir_.path() + "/etc/certs/server.key");
  EXPECT_EQ(config->auth.password_file, dir_.path() + "/elsewhere/passwd");
  EXPECT_TRUE(LoadConfig(config_path).ok());
}

TEST_F(ConfigTest, LoadsTheExampleFile) {
  const absl::StatusOr<Config> config = LoadConfig(MOAT_SOURCE_DIR "/deploy/moat.example.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 1u);
  EXPECT_EQ(config->listeners[0].bind.ToString(), "127.0.0.1:1884");
  EXPECT_FALSE(config->listeners[0].tls.has_value());
  EXPECT_EQ(config->upstream.address.ToString(), "127.0.0.1:1883");
  EXPECT_FALSE(config->upstream.tls.has_value());
  EXPECT_TRUE(config->auth.allow_anonymous);
}

// ---- Unknown and duplicate keys ---------------------------------------------------------

TEST_F(ConfigTest, RejectsUnknownKeysAtEveryLevel) {
  EXPECT_THAT(Problems(std::string(kMinimal) + "  foo: 1\n"),
              ElementsAre("moat.yaml:5: unknown key 'foo' in 'upstream'"));
  EXPECT_THAT(Problems(std::string(kMinimal) + "listener: []\n"),
              ElementsAre("moat.yaml:5: unknown key 'listener' at the top level (did you mean "
                          "'listeners'?)"));
  EXPECT_THAT(Problems("listeners:\n"
                       "  - bind: \"127.0.0.1:1884\"\n"
                       "    tsl: {}\n"
                       "upstream:\n"
                       "  address: \"127.0.0.1:1883\"\n"),
              ElementsAre("moat.yaml:3: unknown key 'tsl' in 'listeners[0]' (did you mean "
                          "'tls'?)"));
  dir_.Write("ca", "x");
  EXPECT_THAT(Problems(std::string(kMinimal) + "  tls:\n    ca: ca\n    verify: false\n"),
              ElementsAre("moat.yaml:7: unknown key 'verify' in 'upstream.tls'"));
  EXPECT_THAT(Problems(std::string(kMinimal) + "limits:\n  max_packet: 10\n"),
              ElementsAre("moat.yaml:6: unknown key 'max_packet' in 'limits' (did you mean "
                          "'max_packet_size'?)"));
}

TEST_F(ConfigTest, ShowsControlCharactersInKeysEscaped) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "\"a\\nb\": 1\n"),
            "moat.yaml:5: unknown key 'a\\x0Ab' at the top level");
}

TEST_F(ConfigTest, RejectsDuplicateKeys) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "  address: \"127.0.0.1:1884\"\n"),
            "moat.yaml:5: duplicate key 'address' in 'upstream' (first at line 4)");
}

TEST_F(ConfigTest, RejectsNonScalarKeys) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "? [a]\n: 1\n"),
            "moat.yaml:5: keys must be plain names, not a list at the top level");
}

// ---- Types ------------------------------------------------------------------------------

TEST_F(ConfigTest, RejectsWrongTypes) {
  EXPECT_EQ(Problem("listeners:\n  bind: \"127.0.0.1:1884\"\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:1: 'listeners' must be a list, got a map");
  EXPECT_EQ(Problem("listeners:\n  - \"127.0.0.1:1884\"\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:2: 'listeners[0]' must be a map, got '127.0.0.1:1884'");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\nupstream: \"a:1\"\n"),
            "moat.yaml:3: 'upstream' must be a map, got 'a:1'");
  EXPECT_EQ(Problem("listeners:\n  - bind: [a]\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:2: 'listeners[0].bind' must be a string, got a list");
  EXPECT_EQ(Problem(std::string(kMinimal) + "threads: many\n"),
            "moat.yaml:5: 'threads' must be an integer, got 'many'");
  EXPECT_EQ(Problem(std::string(kMinimal) + "auth:\n  allow_anonymous: maybe\n"),
            "moat.yaml:6: 'auth.allow_anonymous' must be true or false, got 'maybe'");
  EXPECT_EQ(Problem(std::string(kMinimal) + "auth: [x]\n"),
            "moat.yaml:5: 'auth' must be a map, got a list");
  EXPECT_EQ(Problem(std::string(kMinimal) + "  connect_timeout:\n"),
            "moat.yaml:5: 'upstream.connect_timeout' must be a duration such as 500ms, 10s or "
            "2m, got nothing");
}

TEST_F(ConfigTest, RejectsEmptyStrings) {
  EXPECT_EQ(Problem("listeners:\n  - bind: \"\"\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:2: 'listeners[0].bind' is empty");
  EXPECT_EQ(Problem(std::string(kMinimal) + "auth:\n  password_file:\n"),
            "moat.yaml:6: 'auth.password_file' is empty");
}

TEST_F(ConfigTest, RejectsUnknownEnumValues) {
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    protocol: http\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: 'listeners[0].protocol' must be one of mqtt, websocket; got 'http'");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    proxy_protocol: v3\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: 'listeners[0].proxy_protocol' must be one of none, v1, v2, any; "
            "got 'v3'");
}

TEST_F(ConfigTest, RejectsBadDurations) {
  const std::string key = "limits:\n  connect_timeout: ";
  const std::string prefix = "moat.yaml:6: 'limits.connect_timeout' must be ";
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "10\n"),
            prefix + "a duration such as 500ms, 10s or 2m, got '10'");
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "soon\n"),
            prefix + "a duration such as 500ms, 10s or 2m, got 'soon'");
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "-1s\n"),
            prefix + "between 1ms and 24h, got '-1s'");
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "0s\n"),
            prefix + "between 1ms and 24h, got '0s'");
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "inf\n"),
            prefix + "between 1ms and 24h, got 'inf'");
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "25h\n"),
            prefix + "between 1ms and 24h, got '25h'");
  EXPECT_EQ(Problem(std::string(kMinimal) + key + "1.5ms\n"),
            prefix + "a whole number of milliseconds, got '1.5ms'");
  // Draining may be switched off.
  EXPECT_TRUE(Load(std::string(kMinimal) + "limits:\n  drain_timeout: 0s\n").ok());
}

TEST_F(ConfigTest, RejectsIntegersOutOfRange) {
  EXPECT_EQ(Problem(std::string(kMinimal) + "threads: -1\n"),
            "moat.yaml:5: 'threads' must be between 0 and 1024, got -1");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_packet_size: 1\n"),
            "moat.yaml:6: 'limits.max_packet_size' must be between 2 and 268435460, got 1");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_connections: 0\n"),
            "moat.yaml:6: 'limits.max_connections' must be between 1 and 4294967295, got 0");
  EXPECT_EQ(Problem(std::string(kMinimal) + "limits:\n  max_connections: 1e6\n"),
            "moat.yaml:6: 'limits.max_connections' must be an integer, got '1e6'");
}

// ---- Required keys and combinations -----------------------------------------------------

TEST_F(ConfigTest, RequiresListenersAndUpstream) {
  EXPECT_THAT(Problems("auth:\n  allow_anonymous: true\n"),
              ElementsAre("moat.yaml:1: missing required key 'listeners'",
                          "moat.yaml:1: missing required key 'upstream'"));
  EXPECT_EQ(Problem("listeners: []\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:1: 'listeners' must have at least one listener");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\nupstream:\n  connect_timeout: 1s\n"),
            "moat.yaml:3: missing required key 'address' in 'upstream'");
  EXPECT_EQ(Problem("listeners:\n  - name: x\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:2: missing required key 'bind' in 'listeners[0]'");
}

TEST_F(ConfigTest, ListenerTlsNeedsCertAndKey) {
  dir_.Write("server.crt", "x");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    tls:\n      cert: server.crt\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: missing required key 'key' in 'listeners[0].tls'");
  EXPECT_THAT(Problems("listeners:\n  - bind: \"127.0.0.1:1884\"\n    tls: {}\n"
                       "upstream:\n  address: \"a:1\"\n"),
              ElementsAre("moat.yaml:3: missing required key 'cert' in 'listeners[0].tls'",
                          "moat.yaml:3: missing required key 'key' in 'listeners[0].tls'"));
  // An empty "tls:" must not silently mean plain TCP.
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    tls:\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: 'listeners[0].tls' must be a map with cert and key (omit it for "
            "plain TCP)");
}

TEST_F(ConfigTest, RequireClientCertNeedsClientCa) {
  dir_.Write("server.crt", "x");
  dir_.Write("server.key", "x");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    tls:\n      cert: server.crt\n"
                    "      key: server.key\n      require_client_cert: true\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:6: 'listeners[0].tls.require_client_cert' is true but 'client_ca' is not "
            "set in 'listeners[0].tls'");
}

TEST_F(ConfigTest, CrlFileIsOnePathOrAListAndNeedsClientCa) {
  for (const char* name : {"server.crt", "server.key", "ca.crt", "a.crl", "b.crl"}) {
    dir_.Write(name, "x");
  }
  const std::string tls =
      "listeners:\n  - bind: \"127.0.0.1:1884\"\n    tls:\n      cert: server.crt\n"
      "      key: server.key\n";
  const std::string upstream = "upstream:\n  address: \"a:1\"\n";
  const auto one = Load(tls + "      client_ca: ca.crt\n      crl_file: a.crl\n" + upstream);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->listeners[0].tls->crl_files, std::vector<std::string>{dir_.File("a.crl")});
  EXPECT_FALSE(one->listeners[0].tls->accept_stale_crl);
  const auto two = Load(tls + "      client_ca: ca.crt\n      crl_file: [a.crl, b.crl]\n" +
                        "      on_stale_crl: accept\n" + upstream);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->listeners[0].tls->crl_files.size(), 2u);
  EXPECT_TRUE(two->listeners[0].tls->accept_stale_crl);

  EXPECT_EQ(Problem(tls + "      crl_file: a.crl\n" + upstream),
            "moat.yaml:6: 'listeners[0].tls.crl_file' is set but 'client_ca' is not set in "
            "'listeners[0].tls': only verified certificates can be revoked");
  EXPECT_EQ(Problem(tls + "      client_ca: ca.crt\n      on_stale_crl: accept\n" + upstream),
            "moat.yaml:7: 'listeners[0].tls.on_stale_crl' needs 'crl_file' in 'listeners[0].tls'");
  EXPECT_EQ(Problem(tls + "      client_ca: ca.crt\n      crl_file: []\n" + upstream),
            "moat.yaml:7: 'listeners[0].tls.crl_file' is an empty list");
}

TEST_F(ConfigTest, UpstreamTlsNeedsCaAndCertWithKey) {
  dir_.Write("client.crt", "x");
  EXPECT_THAT(Problems(std::string(kMinimal) + "  tls:\n    cert: client.crt\n"),
              ElementsAre("moat.yaml:5: missing required key 'ca' in 'upstream.tls'",
                          "moat.yaml:6: 'upstream.tls.cert' and 'upstream.tls.key' must be given "
                          "together"));
}

TEST_F(ConfigTest, WebsocketPathMustStartWithSlashAndNeedsWebsocket) {
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    protocol: websocket\n"
                    "    websocket_path: mqtt\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:4: 'listeners[0].websocket_path' must start with '/', got 'mqtt'");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    protocol: websocket\n"
                    "    websocket_path: \"/a b\"\nupstream:\n  address: \"a:1\"\n"),
            "moat.yaml:4: 'listeners[0].websocket_path' must be a plain path without spaces, "
            "'?' or '#'");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    websocket_path: /mqtt\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: 'listeners[0].websocket_path' applies only to listeners with "
            "protocol: websocket");
}

// ---- Addresses --------------------------------------------------------------------------

TEST_F(ConfigTest, RejectsBadBindAddresses) {
  const std::string prefix = "moat.yaml:2: 'listeners[0].bind' is not a valid address ";
  auto problem_for = [&](const std::string& bind) {
    return Problem("listeners:\n  - bind: \"" + bind + "\"\nupstream:\n  address: \"a:1\"\n");
  };
  EXPECT_EQ(problem_for("8883"), prefix + "'8883': missing port (expected host:port)");
  EXPECT_EQ(problem_for("0.0.0.0:0"),
            prefix + "'0.0.0.0:0': port '0' is not a number between 1 and 65535");
  EXPECT_EQ(problem_for("0.0.0.0:65536"),
            prefix + "'0.0.0.0:65536': port '65536' is not a number between 1 and 65535");
  EXPECT_EQ(problem_for("0.0.0.0:-1"),
            prefix + "'0.0.0.0:-1': port '-1' is not a number between 1 and 65535");
  EXPECT_EQ(problem_for("::1:8883"),
            prefix + "'::1:8883': IPv6 addresses must be in brackets, e.g. [::1]:8883");
  EXPECT_EQ(problem_for("[::1]8883"),
            prefix + "'[::1]8883': missing port after ']' (expected [ipv6]:port)");
  EXPECT_EQ(problem_for("[::1:8883"), prefix + "'[::1:8883': '[' without a closing ']'");
  EXPECT_EQ(problem_for("[zz::1]:1"), prefix + "'[zz::1]:1': 'zz::1' is not an IPv6 address");
  EXPECT_EQ(problem_for("256.0.0.1:1"),
            prefix + "'256.0.0.1:1': '256.0.0.1' is not an IPv4 address");
  EXPECT_EQ(problem_for("bad_host:1"),
            prefix + "'bad_host:1': 'bad_host' is not a valid host name or IP address");
  // The host is file text too: shown without its control characters.
  EXPECT_EQ(problem_for("a\\nb:1"),
            prefix + "'a\\x0Ab:1': 'a\\x0Ab' is not a valid host name or IP address");
  EXPECT_EQ(problem_for(":8883"),
            prefix + "':8883': missing host (use 0.0.0.0 or [::] to listen on every address)");
}

TEST_F(ConfigTest, RejectsDuplicateBindAddressesAndNames) {
  EXPECT_EQ(Problem("listeners:\n"
                    "  - bind: \"0.0.0.0:8883\"\n"
                    "  - bind: \"0.0.0.0:8883\"\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: duplicate bind address '0.0.0.0:8883' (also at line 2)");
  EXPECT_EQ(Problem("listeners:\n"
                    "  - bind: \"[::]:8883\"\n"
                    "    name: edge\n"
                    "  - bind: \"[::]:8884\"\n"
                    "    name: edge\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:5: duplicate listener name 'edge' (also at line 3)");
  EXPECT_EQ(Problem(std::string(kMinimal) + "metrics:\n  bind: \"127.0.0.1:1884\"\n"),
            "moat.yaml:5: 'metrics.bind' '127.0.0.1:1884' is also the bind address of listener "
            "'127.0.0.1:1884'");
}

TEST_F(ConfigTest, RejectsListenerNamesThatNeedQuoting) {
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n    name: \"my listener\"\n"
                    "upstream:\n  address: \"a:1\"\n"),
            "moat.yaml:3: 'listeners[0].name' may hold only letters, digits and . _ - : [ ] "
            "(at most 64)");
}

// ---- Referenced files -------------------------------------------------------------------

TEST_F(ConfigTest, ReportsMissingReferencedFilesAtTheirKey) {
  const std::string d = dir_.path();
  EXPECT_THAT(
      Problems("listeners:\n"
               "  - bind: \"127.0.0.1:1884\"\n"
               "    tls:\n"
               "      cert: server.crt\n"
               "      key: /nonexistent/server.key\n"
               "upstream:\n"
               "  address: \"127.0.0.1:1883\"\n"
               "  tls:\n"
               "    ca: ca.crt\n"
               "auth:\n"
               "  password_file: passwd\n"
               "policy:\n"
               "  acl_file: acl\n"
               "  file: policy.yaml\n"),
      ElementsAre(
          "moat.yaml:4: 'listeners[0].tls.cert': cannot read '" + d +
              "/server.crt': No such file or directory",
          "moat.yaml:5: 'listeners[0].tls.key': cannot read '/nonexistent/server.key': No such "
          "file or directory",
          "moat.yaml:9: 'upstream.tls.ca': cannot read '" + d +
              "/ca.crt': No such file or directory",
          "moat.yaml:11: 'auth.password_file': cannot read '" + d +
              "/passwd': No such file or directory",
          "moat.yaml:13: 'policy.acl_file': cannot read '" + d + "/acl': No such file or directory",
          "moat.yaml:14: 'policy.file': cannot read '" + d +
              "/policy.yaml': No such file or directory"));
}

TEST_F(ConfigTest, RejectsAFolderWhereAFileIsExpected) {
  dir_.Write("acl/readme", "x");
  EXPECT_EQ(
      Problem(std::string(kMinimal) + "policy:\n  acl_file: acl\n"),
      "moat.yaml:6: 'policy.acl_file': cannot read '" + dir_.path() + "/acl': Is a directory");
}

// ---- The file itself --------------------------------------------------------------------

TEST_F(ConfigTest, ReportsYamlSyntaxErrorsWithLine) {
  // yaml-cpp finds an unclosed bracket at the end of input: the last line.
  EXPECT_EQ(Problem(std::string(kMinimal) + "auth: [\n"),
            "moat.yaml:5: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(Problem(std::string(kMinimal) + "auth: {a: 1\nthreads: 1"),
            "moat.yaml:6: YAML syntax error: end of map flow not found");
  EXPECT_EQ(Problem("listeners:\n  - bind: \"127.0.0.1:1884\"\n   bad: indent\n"),
            "moat.yaml:3: YAML syntax error: end of sequence not found");
  // yaml-cpp stays at a ',' that starts a document; moat used to read empty documents
  // there until memory ran out.
  EXPECT_EQ(Problem(",listeners: []\n"), "moat.yaml:1: YAML syntax error: unexpected ','");
}

TEST_F(ConfigTest, ReportsAnUnreadableConfigFile) {
  const absl::StatusOr<Config> config = LoadConfig(dir_.path() + "/missing.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            dir_.path() + "/missing.yaml:1: cannot read config file: No such file or directory");
  EXPECT_EQ(LoadConfig(dir_.path()).status().message(),
            dir_.path() + ":1: cannot read config file: Is a directory");
}

TEST_F(ConfigTest, RejectsEmptyAndMultiDocumentFiles) {
  EXPECT_EQ(Problem(""), "moat.yaml:1: the config is empty");
  EXPECT_EQ(Problem("# only a comment\n"), "moat.yaml:1: the config is empty");
  EXPECT_EQ(Problem("- a\n- b\n"), "moat.yaml:1: the top level must be a map of settings");
  EXPECT_EQ(Problem(std::string(kMinimal) + "---\nthreads: 1\n"),
            "moat.yaml:6: only one YAML document is allowed");
}

TEST_F(ConfigTest, ReportsEveryProblemAtOnceInLineOrder) {
  EXPECT_THAT(
      Problems("threads: lots\n"                 // 1
               "listeners:\n"                    // 2
               "  - bind: \"0.0.0.0:99999\"\n"   // 3
               "    protocol: mqtt5\n"           // 4
               "  - bind: \"0.0.0.0:8883\"\n"    // 5
               "    tls:\n"                      // 6
               "      cert: nope.crt\n"          // 7
               "upstream:\n"                     // 8
               "  adress: \"127.0.0.1:1883\"\n"  // 9
               "limits:\n"                       // 10
               "  drain_timeout: forever\n"),    // 11
      ElementsAre(
          "moat.yaml:1: 'threads' must be an integer, got 'lots'",
          "moat.yaml:3: 'listeners[0].bind' is not a valid address '0.0.0.0:99999': port "
          "'99999' is not a number between 1 and 65535",
          "moat.yaml:4: 'listeners[0].protocol' must be one of mqtt, websocket; got 'mqtt5'",
          "moat.yaml:6: missing required key 'key' in 'listeners[1].tls'",
          "moat.yaml:7: 'listeners[1].tls.cert': cannot read '" + dir_.path() +
              "/nope.crt': No such file or directory",
          "moat.yaml:8: missing required key 'address' in 'upstream'",
          "moat.yaml:9: unknown key 'adress' in 'upstream' (did you mean 'address'?)",
          "moat.yaml:11: 'limits.drain_timeout' must be a duration such as 500ms, 10s or "
          "2m, got 'forever'"));
}

}  // namespace
}  // namespace moat::config
