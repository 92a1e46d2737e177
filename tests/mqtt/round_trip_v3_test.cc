// Encode, then decode (whole and one byte at a time), for every packet type of MQTT 3.1
// and 3.1.1: the decoded packet equals the original and frame.raw equals the encoding.
#include <gtest/gtest.h>

#include <string>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

constexpr Direction kToServer = Direction::kClientToServer;
constexpr Direction kToClient = Direction::kServerToClient;

class RoundTripV3 : public ::testing::TestWithParam<ProtocolVersion> {
 protected:
  ProtocolVersion version() const { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Versions, RoundTripV3, ::testing::Values(kV31, kV311),
                         [](const auto& param_info) {
                           return param_info.param == kV31 ? std::string("V31") : "V311";
                         });

TEST_P(RoundTripV3, MinimalConnect) {
  Connect connect;
  connect.version = version();
  connect.client_id = "client-1";
  EXPECT_TRUE(RoundTrips(connect, version(), kToServer));
}

TEST_P(RoundTripV3, ConnectWithWillUsernameAndPassword) {
  Connect connect;
  connect.version = version();
  connect.clean_start = false;
  connect.keep_alive = 65535;
  connect.client_id = "sensor-42";
  connect.will = MakeWill(2, true, "status/sensor-42", std::string_view("gone\0\xFF", 6));
  connect.username = "alice";
  connect.password = std::string_view("s3cr\0t", 6);
  EXPECT_TRUE(RoundTrips(connect, version(), kToServer));
}

TEST_P(RoundTripV3, ConnectWithUsernameOnlyAndQos1Will) {
  Connect connect;
  connect.version = version();
  connect.keep_alive = 0;
  connect.client_id = "c";
  connect.will = MakeWill(1, false, "w", "");
  connect.username = "";
  EXPECT_TRUE(RoundTrips(connect, version(), kToServer));
}

TEST_P(RoundTripV3, ConnackEveryReturnCode) {
  Connack accepted;
  accepted.session_present = true;
  EXPECT_TRUE(RoundTrips(accepted, version(), kToClient));
  for (uint8_t code = 0; code <= 5; ++code) {
    Connack connack;
    connack.reason_code = code;
    EXPECT_TRUE(RoundTrips(connack, version(), kToClient)) << "return code " << int{code};
  }
}

TEST_P(RoundTripV3, PublishEveryQosBothWays) {
  const std::string payload(300, '\x7F');  // a Remaining Length of two bytes
  for (uint8_t qos = 0; qos <= 2; ++qos) {
    Publish publish;
    publish.qos = qos;
    publish.retain = qos == 1;
    publish.dup = qos == 2;
    publish.topic = "a/b/c";
    publish.packet_id = qos == 0 ? 0 : 0xBEEF;
    publish.payload = payload;
    EXPECT_TRUE(RoundTrips(publish, version(), kToServer)) << "QoS " << int{qos};
    EXPECT_TRUE(RoundTrips(publish, version(), kToClient)) << "QoS " << int{qos};
  }
}

TEST_P(RoundTripV3, PublishWithEmptyPayload) {
  Publish publish;
  publish.topic = "$SYS/broker/uptime";
  publish.retain = true;
  EXPECT_TRUE(RoundTrips(publish, version(), kToClient));
}

TEST_P(RoundTripV3, PublishResponsesBothWays) {
  for (const Direction direction : {kToServer, kToClient}) {
    EXPECT_TRUE(RoundTrips(MakeAck<Puback>(1), version(), direction));
    EXPECT_TRUE(RoundTrips(MakeAck<Pubrec>(0x7FFF), version(), direction));
    EXPECT_TRUE(RoundTrips(MakeAck<Pubrel>(0x8000), version(), direction));
    EXPECT_TRUE(RoundTrips(MakeAck<Pubcomp>(65535), version(), direction));
  }
}

TEST_P(RoundTripV3, SubscribeSeveralFilters) {
  Subscribe subscribe;
  subscribe.packet_id = 10;
  subscribe.subscriptions = {{.filter = "a/b", .qos = 0},
                             {.filter = "a/+/c", .qos = 1},
                             {.filter = "#", .qos = 2},
                             {.filter = "$SYS/#", .qos = 1}};
  EXPECT_TRUE(RoundTrips(subscribe, version(), kToServer));
}

TEST_P(RoundTripV3, SubackGrantedQos) {
  Suback suback;
  suback.packet_id = 10;
  suback.reason_codes = {0, 1, 2, 1};
  EXPECT_TRUE(RoundTrips(suback, version(), kToClient));
}

TEST_P(RoundTripV3, UnsubscribeAndUnsuback) {
  Unsubscribe unsubscribe;
  unsubscribe.packet_id = 11;
  unsubscribe.filters = {"a/b", "a/+/c", "#"};
  EXPECT_TRUE(RoundTrips(unsubscribe, version(), kToServer));
  Unsuback unsuback;
  unsuback.packet_id = 11;
  EXPECT_TRUE(RoundTrips(unsuback, version(), kToClient));
}

TEST_P(RoundTripV3, PingAndDisconnect) {
  EXPECT_TRUE(RoundTrips(Pingreq{}, version(), kToServer));
  EXPECT_TRUE(RoundTrips(Pingresp{}, version(), kToClient));
  EXPECT_TRUE(RoundTrips(Disconnect{}, version(), kToServer));
}

// 3.1.1 added the SUBACK failure return code 0x80 (3.1.1 spec 3.9.3).
TEST(RoundTripV311, SubackWithFailure) {
  Suback suback;
  suback.packet_id = 3;
  suback.reason_codes = {0x80, 0x00};
  EXPECT_TRUE(RoundTrips(suback, kV311, kToClient));
}

TEST(RoundTripV311, EncodesFixedHeaderFlagsAsTheSpecFixesThem) {
  // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010, the others 0000 [MQTT-2.1.3-1].
  Subscribe subscribe;
  subscribe.packet_id = 1;
  subscribe.subscriptions = {{.filter = "a"}};
  Unsubscribe unsubscribe;
  unsubscribe.packet_id = 1;
  unsubscribe.filters = {"a"};
  EXPECT_EQ(ToHex(EncodeOrFail(MakeAck<Pubrel>(1), kV311)), "62 02 00 01");
  EXPECT_EQ(ToHex(EncodeOrFail(subscribe, kV311)), "82 06 00 01 00 01 61 00");
  EXPECT_EQ(ToHex(EncodeOrFail(unsubscribe, kV311)), "A2 05 00 01 00 01 61");
  EXPECT_EQ(ToHex(EncodeOrFail(MakeAck<Puback>(1), kV311)), "40 02 00 01");
  EXPECT_EQ(ToHex(EncodeOrFail(MakeAck<Pubrec>(1), kV311)), "50 02 00 01");
  EXPECT_EQ(ToHex(EncodeOrFail(MakeAck<Pubcomp>(1), kV311)), "70 02 00 01");
  EXPECT_EQ(ToHex(EncodeOrFail(Pingreq{}, kV311)), "C0 00");
  EXPECT_EQ(ToHex(EncodeOrFail(Pingresp{}, kV311)), "D0 00");
  EXPECT_EQ(ToHex(EncodeOrFail(Disconnect{}, kV311)), "E0 00");
  Connack connack;
  connack.session_present = true;
  EXPECT_EQ(ToHex(EncodeOrFail(connack, kV311)), "20 02 01 00");
}

TEST(RoundTripV31, EncodesMqisdpProtocolName) {
  Connect connect;
  connect.version = kV31;
  connect.keep_alive = 60;
  connect.client_id = "c";
  // 10 0F: CONNECT, 15 bytes. 00 06 "MQIsdp". 03: level 3. 02: clean session.
  // 00 3C: keep alive 60. 00 01 63: client id "c".
  EXPECT_EQ(ToHex(EncodeOrFail(connect, kV31)),
            "10 0F 00 06 4D 51 49 73 64 70 03 02 00 3C 00 01 63");
}

TEST(RoundTripV311, EncodesConnectWithItsOwnVersion) {
  // Encode() is asked for 5.0 but a Connect always uses its own version (3.1.1 here).
  Connect connect;
  connect.version = kV311;
  connect.keep_alive = 60;
  connect.client_id = "c";
  EXPECT_EQ(ToHex(EncodeOrFail(connect, kV5)), ToHex(MinimalConnect(kV311)));
}

}  // namespace
}  // namespace moat::mqtt::test
