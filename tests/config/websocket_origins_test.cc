// listeners[].websocket_origins (issue 14, item 9): which Origin values a WebSocket
// listener lets upgrade, normalized as browsers send them, and every mistake reported as
// "FILE:LINE: message".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "proxy/config/config.h"
#include "proxy/config/websocket_origin.h"
#include "tests/config/config_fixture.h"

namespace moat::config {
namespace {

using test::ConfigTest;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

// "websocket_origins:" is line 4; its first entry line 5.
std::string WebSocketListener(std::string_view origins, std::string_view protocol = "websocket") {
  return "listeners:\n  - bind: \"127.0.0.1:8083\"\n    protocol: " + std::string(protocol) +
         "\n    websocket_origins:" + std::string(origins) +
         "upstream:\n  address: \"127.0.0.1:1883\"\n";
}

TEST(NormalizeOrigin, LowerCasesSchemeAndHostAndDropsTheDefaultPort) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://hmi.plant.example", "https://hmi.plant.example"},
      {"HTTPS://HMI.Plant.Example", "https://hmi.plant.example"},
      {"https://hmi.plant.example:443", "https://hmi.plant.example"},
      {"http://hmi:80", "http://hmi"},
      {"http://hmi:443", "http://hmi:443"},
      {"https://hmi:8443", "https://hmi:8443"},
      {"http://10.0.0.7:8080", "http://10.0.0.7:8080"},
      {"http://[FE80::1]:8080", "http://[fe80::1]:8080"},
      {"chrome-extension://abcdef", "chrome-extension://abcdef"},
  };
  for (const auto& [origin, normalized] : cases) {
    EXPECT_THAT(NormalizeOrigin(origin), Optional(std::string(normalized))) << origin;
  }
}

TEST(NormalizeOrigin, RefusesWhatIsNotASerializedOrigin) {
  for (const char* bad : {"",
                          "null",
                          "hmi.plant.example",
                          "https://",
                          "https://hmi/",
                          "https://hmi/app",
                          "https://hmi?x",
                          "https://hmi#x",
                          "https://user@hmi",
                          "https://hmi:",
                          "https://hmi:0",
                          "https://hmi:65536",
                          "https://hmi:12a",
                          "https://hmi:+80",
                          "https://hm i",
                          "*",
                          "https://*.plant.example",
                          "1http://hmi",
                          "https://[::1",
                          "https://[zz]",
                          "https://[::1]x",
                          " https://hmi",
                          "https://hmi\r\nX: y"}) {
    EXPECT_EQ(NormalizeOrigin(bad), std::nullopt) << bad;
  }
}

TEST_F(ConfigTest, ReadsWebSocketOriginsNormalized) {
  const absl::StatusOr<Config> config =
      Load(WebSocketListener("\n      - \"https://HMI.plant.example:443\"\n"
                             "      - http://10.0.0.7:8080\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->listeners[0].websocket_origins,
              ElementsAre("https://hmi.plant.example", "http://10.0.0.7:8080"));
}

TEST_F(ConfigTest, AllowsAnyOriginWithoutTheKey) {
  const absl::StatusOr<Config> config = Load(
      "listeners:\n  - bind: \"127.0.0.1:8083\"\n    protocol: websocket\n"
      "upstream:\n  address: \"127.0.0.1:1883\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->listeners[0].websocket_origins, IsEmpty());
}

TEST_F(ConfigTest, RefusesWebSocketOriginsOnAnMqttListener) {
  EXPECT_EQ(Problem(WebSocketListener(" [\"https://hmi\"]\n", "mqtt")),
            "moat.yaml:4: 'listeners[0].websocket_origins' applies only to listeners with "
            "protocol: websocket");
}

TEST_F(ConfigTest, RefusesAnEmptyOrMistypedOriginList) {
  EXPECT_EQ(Problem(WebSocketListener(" []\n")),
            "moat.yaml:4: 'listeners[0].websocket_origins' must list at least one origin (leave "
            "it out to allow any)");
  EXPECT_EQ(Problem(WebSocketListener(" https://hmi\n")),
            "moat.yaml:4: 'listeners[0].websocket_origins' must be a list, got 'https://hmi'");
}

TEST_F(ConfigTest, RefusesBadOriginEntriesEachAtItsLine) {
  EXPECT_THAT(Problems(WebSocketListener("\n      - https://hmi.plant.example/\n"
                                         "      - \"\"\n"
                                         "      - {host: hmi}\n"
                                         "      - https://ok.example\n"
                                         "      - \"*\"\n")),
              ElementsAre("moat.yaml:5: 'listeners[0].websocket_origins[0]' must be an origin as "
                          "browsers send it, scheme://host or scheme://host:port without a path "
                          "(e.g. https://hmi.plant.example), got 'https://hmi.plant.example/'",
                          "moat.yaml:6: 'listeners[0].websocket_origins[1]' is empty",
                          "moat.yaml:7: 'listeners[0].websocket_origins[2]' must be a string, "
                          "got a map",
                          "moat.yaml:9: 'listeners[0].websocket_origins[4]' must be an origin as "
                          "browsers send it, scheme://host or scheme://host:port without a path "
                          "(e.g. https://hmi.plant.example), got '*'"));
}

}  // namespace
}  // namespace moat::config
