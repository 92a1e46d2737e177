// Encode, then decode (whole and one byte at a time), for every MQTT 5 packet type,
// loaded with the properties each may carry: the decoded packet equals the original
// (properties in wire order) and frame.raw equals the encoding.
#include <gtest/gtest.h>

#include <string>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

constexpr Direction kToServer = Direction::kClientToServer;
constexpr Direction kToClient = Direction::kServerToClient;

TEST(RoundTripV5, MinimalConnect) {
  Connect connect;
  connect.version = kV5;
  connect.client_id = "c";
  EXPECT_TRUE(RoundTrips(connect, kV5, kToServer));
}

TEST(RoundTripV5, ConnectWithEveryPropertyWillUsernameAndPassword) {
  Connect connect;
  connect.version = kV5;
  connect.clean_start = false;
  connect.keep_alive = 30;
  connect.client_id = "device-7";
  connect.properties.AddInteger(PropertyId::kSessionExpiryInterval, 0xFFFFFFFF);
  connect.properties.AddInteger(PropertyId::kReceiveMaximum, 20);
  connect.properties.AddInteger(PropertyId::kMaximumPacketSize, 1 << 20);
  connect.properties.AddInteger(PropertyId::kTopicAliasMaximum, 10);
  connect.properties.AddInteger(PropertyId::kRequestResponseInformation, 1);
  connect.properties.AddInteger(PropertyId::kRequestProblemInformation, 0);
  connect.properties.AddUserProperty("region", "eu");
  connect.properties.AddUserProperty("region", "us");
  connect.properties.AddUserProperty("", "");
  connect.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM-SHA-256");
  connect.properties.AddString(PropertyId::kAuthenticationData, std::string_view("\0\1\2", 3));
  Will will = MakeWill(1, true, "devices/7/status", "offline");
  will.properties.AddInteger(PropertyId::kWillDelayInterval, 5);
  will.properties.AddInteger(PropertyId::kPayloadFormatIndicator, 1);
  will.properties.AddInteger(PropertyId::kMessageExpiryInterval, 3600);
  will.properties.AddString(PropertyId::kContentType, "text/plain");
  will.properties.AddString(PropertyId::kResponseTopic, "devices/7/reply");
  will.properties.AddString(PropertyId::kCorrelationData, std::string_view("\xFF\x00", 2));
  will.properties.AddUserProperty("why", "power");
  will.properties.AddUserProperty("why", "network");
  connect.will = will;
  connect.username = "device-7";
  connect.password = std::string_view("\x01\x02\x03\x00", 4);
  EXPECT_TRUE(RoundTrips(connect, kV5, kToServer));
}

TEST(RoundTripV5, ConnectWithPasswordButNoUsername) {
  Connect connect;
  connect.version = kV5;
  connect.client_id = "";
  connect.password = "token";
  EXPECT_TRUE(RoundTrips(connect, kV5, kToServer));
}

TEST(RoundTripV5, ConnackWithEveryProperty) {
  Connack connack;
  connack.session_present = true;
  connack.properties.AddInteger(PropertyId::kSessionExpiryInterval, 120);
  connack.properties.AddInteger(PropertyId::kReceiveMaximum, 65535);
  connack.properties.AddInteger(PropertyId::kMaximumQos, 1);
  connack.properties.AddInteger(PropertyId::kRetainAvailable, 0);
  connack.properties.AddInteger(PropertyId::kMaximumPacketSize, 268'435'460);
  connack.properties.AddString(PropertyId::kAssignedClientIdentifier, "auto-1234");
  connack.properties.AddInteger(PropertyId::kTopicAliasMaximum, 0);
  connack.properties.AddString(PropertyId::kReasonString, "welcome");
  connack.properties.AddUserProperty("a", "1");
  connack.properties.AddUserProperty("b", "2");
  connack.properties.AddInteger(PropertyId::kWildcardSubscriptionAvailable, 1);
  connack.properties.AddInteger(PropertyId::kSubscriptionIdentifierAvailable, 0);
  connack.properties.AddInteger(PropertyId::kSharedSubscriptionAvailable, 1);
  connack.properties.AddInteger(PropertyId::kServerKeepAlive, 45);
  connack.properties.AddString(PropertyId::kResponseInformation, "replies/");
  connack.properties.AddString(PropertyId::kServerReference, "other.example:1883");
  connack.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM-SHA-256");
  connack.properties.AddString(PropertyId::kAuthenticationData, "server-final");
  EXPECT_TRUE(RoundTrips(connack, kV5, kToClient));
}

TEST(RoundTripV5, ConnackRefusals) {
  for (const uint8_t code : {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
                             0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F}) {
    Connack connack;
    connack.reason_code = code;
    EXPECT_TRUE(RoundTrips(connack, kV5, kToClient)) << "reason 0x" << std::hex << int{code};
  }
}

TEST(RoundTripV5, PublishWithEveryClientProperty) {
  Publish publish;
  publish.qos = 1;
  publish.retain = true;
  publish.topic = "a/b";
  publish.packet_id = 99;
  publish.properties.AddInteger(PropertyId::kPayloadFormatIndicator, 1);
  publish.properties.AddInteger(PropertyId::kMessageExpiryInterval, 60);
  publish.properties.AddInteger(PropertyId::kTopicAlias, 3);
  publish.properties.AddString(PropertyId::kResponseTopic, "a/reply");
  publish.properties.AddString(PropertyId::kCorrelationData, "req-1");
  publish.properties.AddUserProperty("k", "v1");
  publish.properties.AddUserProperty("k", "v2");
  publish.properties.AddUserProperty("k2", "v3");
  publish.properties.AddString(PropertyId::kContentType, "application/json");
  publish.payload = R"({"on":true})";
  EXPECT_TRUE(RoundTrips(publish, kV5, kToServer));
}

TEST(RoundTripV5, PublishFromServerWithSubscriptionIdentifiers) {
  Publish publish;
  publish.qos = 2;
  publish.dup = true;
  publish.topic = "x";
  publish.packet_id = 1;
  publish.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 1);
  publish.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 128);
  publish.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 268'435'455);
  publish.payload = std::string_view("\0\0", 2);
  EXPECT_TRUE(RoundTrips(publish, kV5, kToClient));
}

TEST(RoundTripV5, PublishWithTopicAliasAndEmptyTopic) {
  Publish publish;
  publish.topic = "";
  publish.properties.AddInteger(PropertyId::kTopicAlias, 65535);
  publish.payload = "p";
  EXPECT_TRUE(RoundTrips(publish, kV5, kToServer));
  EXPECT_TRUE(RoundTrips(publish, kV5, kToClient));
}

TEST(RoundTripV5, PublishWithLargePropertyBlock) {
  // 200 user properties: a Property Length of two bytes.
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back("name-" + std::to_string(i));
  Publish publish;
  publish.topic = "t";
  for (const std::string& name : names) publish.properties.AddUserProperty(name, "value");
  EXPECT_TRUE(RoundTrips(publish, kV5, kToClient));
}

TEST(RoundTripV5, PublishResponsesWithReasonCodesAndProperties) {
  for (const Direction direction : {kToServer, kToClient}) {
    Puback puback = MakeAck<Puback>(1, 0x10);
    puback.properties.AddString(PropertyId::kReasonString, "nobody listens");
    puback.properties.AddUserProperty("trace", "abc");
    EXPECT_TRUE(RoundTrips(puback, kV5, direction));
    Pubrec pubrec = MakeAck<Pubrec>(2, 0x97);
    pubrec.properties.AddUserProperty("quota", "0");
    EXPECT_TRUE(RoundTrips(pubrec, kV5, direction));
    Pubrel pubrel = MakeAck<Pubrel>(3, 0x92);
    pubrel.properties.AddString(PropertyId::kReasonString, "unknown id");
    EXPECT_TRUE(RoundTrips(pubrel, kV5, direction));
    Pubcomp pubcomp = MakeAck<Pubcomp>(4, 0x92);
    EXPECT_TRUE(RoundTrips(pubcomp, kV5, direction));
    // Success without properties: the encoder may use the 2-byte short form.
    EXPECT_TRUE(RoundTrips(MakeAck<Puback>(5), kV5, direction));
    EXPECT_TRUE(RoundTrips(MakeAck<Pubcomp>(6), kV5, direction));
  }
}

TEST(RoundTripV5, EveryPubackReasonCode) {
  for (const uint8_t code : {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}) {
    EXPECT_TRUE(RoundTrips(MakeAck<Puback>(9, code), kV5, kToClient))
        << "reason 0x" << std::hex << int{code};
    EXPECT_TRUE(RoundTrips(MakeAck<Pubrec>(9, code), kV5, kToServer))
        << "reason 0x" << std::hex << int{code};
  }
}

TEST(RoundTripV5, SubscribeWithIdentifierUserPropertiesAndOptions) {
  Subscribe subscribe;
  subscribe.packet_id = 42;
  subscribe.properties.AddInteger(PropertyId::kSubscriptionIdentifier, 16384);
  subscribe.properties.AddUserProperty("app", "dash");
  subscribe.properties.AddUserProperty("app", "board");
  subscribe.subscriptions = {
      {.filter = "a/+", .qos = 0},
      {.filter = "b/#", .qos = 1, .no_local = true},
      {.filter = "c", .qos = 2, .retain_as_published = true, .retain_handling = 1},
      {.filter = "$share/workers/jobs/#", .qos = 1, .retain_handling = 2},
      {.filter = "d",
       .qos = 2,
       .no_local = true,
       .retain_as_published = true,
       .retain_handling = 2},
  };
  EXPECT_TRUE(RoundTrips(subscribe, kV5, kToServer));
}

TEST(RoundTripV5, SubackWithReasonCodesAndProperties) {
  Suback suback;
  suback.packet_id = 42;
  suback.properties.AddString(PropertyId::kReasonString, "partly");
  suback.properties.AddUserProperty("k", "v");
  suback.reason_codes = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
  EXPECT_TRUE(RoundTrips(suback, kV5, kToClient));
}

TEST(RoundTripV5, UnsubscribeWithUserProperties) {
  Unsubscribe unsubscribe;
  unsubscribe.packet_id = 43;
  unsubscribe.properties.AddUserProperty("k", "v");
  unsubscribe.properties.AddUserProperty("k", "w");
  unsubscribe.filters = {"a/+", "$share/g/b", "#"};
  EXPECT_TRUE(RoundTrips(unsubscribe, kV5, kToServer));
}

TEST(RoundTripV5, UnsubackWithReasonCodes) {
  Unsuback unsuback;
  unsuback.packet_id = 43;
  unsuback.properties.AddString(PropertyId::kReasonString, "done");
  unsuback.properties.AddUserProperty("k", "v");
  unsuback.reason_codes = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
  EXPECT_TRUE(RoundTrips(unsuback, kV5, kToClient));
}

TEST(RoundTripV5, PingreqAndPingresp) {
  EXPECT_TRUE(RoundTrips(Pingreq{}, kV5, kToServer));
  EXPECT_TRUE(RoundTrips(Pingresp{}, kV5, kToClient));
}

TEST(RoundTripV5, DisconnectFromClient) {
  EXPECT_TRUE(RoundTrips(Disconnect{}, kV5, kToServer));
  Disconnect disconnect = WithReason<Disconnect>(0x04);
  disconnect.properties.AddInteger(PropertyId::kSessionExpiryInterval, 0);
  disconnect.properties.AddString(PropertyId::kReasonString, "bye");
  disconnect.properties.AddUserProperty("k", "v");
  EXPECT_TRUE(RoundTrips(disconnect, kV5, kToServer));
}

TEST(RoundTripV5, DisconnectFromServer) {
  Disconnect disconnect = WithReason<Disconnect>(0x9C);
  disconnect.properties.AddString(PropertyId::kReasonString, "moved");
  disconnect.properties.AddString(PropertyId::kServerReference, "b.example:8883");
  disconnect.properties.AddUserProperty("k", "v");
  EXPECT_TRUE(RoundTrips(disconnect, kV5, kToClient));
  EXPECT_TRUE(RoundTrips(WithReason<Disconnect>(0x8B), kV5, kToClient));
  EXPECT_TRUE(RoundTrips(Disconnect{}, kV5, kToClient));
}

TEST(RoundTripV5, AuthBothWays) {
  Auth from_client = WithReason<Auth>(0x19);
  from_client.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM-SHA-256");
  from_client.properties.AddString(PropertyId::kAuthenticationData, "client-first");
  from_client.properties.AddString(PropertyId::kReasonString, "re-auth");
  from_client.properties.AddUserProperty("k", "v");
  EXPECT_TRUE(RoundTrips(from_client, kV5, kToServer));
  Auth from_server = WithReason<Auth>(0x18);
  from_server.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM-SHA-256");
  from_server.properties.AddString(PropertyId::kAuthenticationData,
                                   std::string_view("\x00\x01\xFE\xFF", 4));
  EXPECT_TRUE(RoundTrips(from_server, kV5, kToClient));
  Auth success = WithReason<Auth>(0x00);
  success.properties.AddString(PropertyId::kAuthenticationMethod, "SCRAM-SHA-256");
  EXPECT_TRUE(RoundTrips(success, kV5, kToClient));
}

}  // namespace
}  // namespace moat::mqtt::test
