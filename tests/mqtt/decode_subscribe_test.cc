// SUBSCRIBE and UNSUBSCRIBE: topic filters (spec 4.7), shared subscriptions (4.8.2),
// subscription options (3.8.3.1) and empty payloads.
#include <gtest/gtest.h>

#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

constexpr ReasonCode kFilterInvalid = ReasonCode::kTopicFilterInvalid;

// ---- Topic filters (3.1.1: 82 LL | 00 01 packet id | 00 NN filter | options) ---------

TEST(DecodeSubscribe, RejectsHashBeforeTheLastLevel) {
  // 82 0A: SUBSCRIBE, 10 bytes. 00 01: id 1. 00 05 61 2F 23 2F 62: "a/#/b" ('#' must be
  // last [MQTT-4.7.1-2]). 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 0A 00 01 00 05 61 2F 23 2F 62 00"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicFilter, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsHashSharingALevel) {
  // 82 07: SUBSCRIBE, 7 bytes. 00 01: id 1. 00 02 61 23: "a#" ('#' must follow '/' or
  // stand alone). 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 07 00 01 00 02 61 23 00"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicFilter, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsPlusAfterText) {
  // 82 09: SUBSCRIBE, 9 bytes. 00 01: id 1. 00 04 61 2F 62 2B: "a/b+" ('+' must occupy
  // a whole level [MQTT-4.7.1-3]). 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 09 00 01 00 04 61 2F 62 2B 00"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicFilter, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsPlusBeforeText) {
  // 82 07: SUBSCRIBE, 7 bytes. 00 01: id 1. 00 02 2B 61: "+a". 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 07 00 01 00 02 2B 61 00"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicFilter, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsEmptyFilter) {
  // 82 05: SUBSCRIBE, 5 bytes. 00 01: id 1. 00 00: "" [MQTT-4.7.3-1]. 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 05 00 01 00 00 00"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicFilter, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsInvalidFilterInUnsubscribe) {
  // A2 09: UNSUBSCRIBE, 9 bytes. 00 01: id 1. 00 05 61 2F 23 2F 62: "a/#/b".
  EXPECT_TRUE(Refuses(Hex("A2 09 00 01 00 05 61 2F 23 2F 62"), ClientToServer(), kV311,
                      DecodeError::kInvalidTopicFilter, kFilterInvalid));
}

TEST(DecodeSubscribe, AcceptsValidFilters) {
  for (std::string_view filter :
       {"#", "+", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "a/b/#", "+/#", "sport/tennis/+"}) {
    SCOPED_TRACE(filter);
    // SUBSCRIBE: id 1, the filter, QoS 1.
    Subscribe expected;
    expected.packet_id = 1;
    expected.subscriptions.push_back({.filter = filter, .qos = 1});
    EXPECT_TRUE(DecodesTo(WithFixedHeader(0x82, Cat({Hex("00 01"), Str(filter), Hex("01")})),
                          ClientToServer(), kV311, expected));
    // UNSUBSCRIBE: id 1, the filter.
    Unsubscribe unsubscribe;
    unsubscribe.packet_id = 1;
    unsubscribe.filters.push_back(filter);
    EXPECT_TRUE(DecodesTo(WithFixedHeader(0xA2, Cat({Hex("00 01"), Str(filter)})), ClientToServer(),
                          kV311, unsubscribe));
  }
}

TEST(DecodeSubscribe, AcceptsSeveralFiltersInOrder) {
  // 82 14: SUBSCRIBE, 20 bytes. 00 0A: id 10. 00 01 23 00: "#" QoS 0.
  // 00 03 61 2F 2B 01: "a/+" QoS 1. 00 05 24 53 59 53 2F 02: "$SYS/" QoS 2.
  Subscribe expected;
  expected.packet_id = 10;
  expected.subscriptions = {
      {.filter = "#", .qos = 0}, {.filter = "a/+", .qos = 1}, {.filter = "$SYS/", .qos = 2}};
  EXPECT_TRUE(DecodesTo(Hex("82 14 00 0A 00 01 23 00 00 03 61 2F 2B 01 00 05 24 53 59 53 2F 02"),
                        ClientToServer(), kV311, expected));
}

// ---- Shared subscriptions (MQTT 5: 82 LL | 00 01 id | 00 no properties | filter | opts)

TEST(DecodeSubscribe, RejectsShareWithoutShareName) {
  // 82 0D: SUBSCRIBE, 13 bytes. 00 01: id 1. 00: no properties.
  // 00 07 "$share/" (24 73 68 61 72 65 2F): no ShareName, no filter. 00: options.
  EXPECT_TRUE(Refuses(Hex("82 0D 00 01 00 00 07 24 73 68 61 72 65 2F 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidSharedSubscription, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsShareWithEmptyShareName) {
  // 82 0F: SUBSCRIBE, 15 bytes. 00 01: id 1. 00: no properties.
  // 00 09 "$share//a": empty ShareName [MQTT-4.8.2-1]. 00: options.
  EXPECT_TRUE(Refuses(Hex("82 0F 00 01 00 00 09 24 73 68 61 72 65 2F 2F 61 00"), ClientToServer(),
                      kV5, DecodeError::kInvalidSharedSubscription, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsShareWithoutFilter) {
  // 82 0E: SUBSCRIBE, 14 bytes. 00 01: id 1. 00: no properties.
  // 00 08 "$share/g": a ShareName but no "/" and filter [MQTT-4.8.2-2]. 00: options.
  EXPECT_TRUE(Refuses(Hex("82 0E 00 01 00 00 08 24 73 68 61 72 65 2F 67 00"), ClientToServer(), kV5,
                      DecodeError::kInvalidSharedSubscription, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsShareWithEmptyFilter) {
  // 82 0F: SUBSCRIBE, 15 bytes. 00 01: id 1. 00: no properties.
  // 00 09 "$share/g/": the filter after the ShareName is empty. 00: options.
  EXPECT_TRUE(Refuses(Hex("82 0F 00 01 00 00 09 24 73 68 61 72 65 2F 67 2F 00"), ClientToServer(),
                      kV5, DecodeError::kInvalidSharedSubscription, kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsPlusInShareName) {
  // 82 11: SUBSCRIBE, 17 bytes. 00 01: id 1. 00: no properties.
  // 00 0B "$share/g+/a": '+' in the ShareName [MQTT-4.8.2-2]. 00: options.
  EXPECT_TRUE(Refuses(Hex("82 11 00 01 00 00 0B 24 73 68 61 72 65 2F 67 2B 2F 61 00"),
                      ClientToServer(), kV5, DecodeError::kInvalidSharedSubscription,
                      kFilterInvalid));
}

TEST(DecodeSubscribe, RejectsHashInShareName) {
  // 82 11: SUBSCRIBE, 17 bytes. 00 01: id 1. 00: no properties.
  // 00 0B "$share/g#/a": '#' in the ShareName [MQTT-4.8.2-2]. 00: options.
  EXPECT_TRUE(Refuses(Hex("82 11 00 01 00 00 0B 24 73 68 61 72 65 2F 67 23 2F 61 00"),
                      ClientToServer(), kV5, DecodeError::kInvalidSharedSubscription,
                      kFilterInvalid));
}

TEST(DecodeSubscribe, AcceptsSharedSubscription) {
  // 82 12: SUBSCRIBE, 18 bytes. 00 01: id 1. 00: no properties.
  // 00 0C "$share/g/a/#". 01: QoS 1.
  Subscribe expected;
  expected.packet_id = 1;
  expected.subscriptions.push_back({.filter = "$share/g/a/#", .qos = 1});
  EXPECT_TRUE(DecodesTo(Hex("82 12 00 01 00 00 0C 24 73 68 61 72 65 2F 67 2F 61 2F 23 01"),
                        ClientToServer(), kV5, expected));
}

TEST(DecodeSubscribe, RejectsNoLocalOnSharedSubscription) {
  // As above, but options 04: No Local on a shared subscription [MQTT-3.8.3-4].
  EXPECT_TRUE(Refuses(Hex("82 12 00 01 00 00 0C 24 73 68 61 72 65 2F 67 2F 61 2F 23 04"),
                      ClientToServer(), kV5, DecodeError::kNoLocalOnSharedSubscription,
                      kProtocolError));
}

TEST(DecodeSubscribe, RejectsSharedSubscriptionInUnsubscribeWhenMalformed) {
  // A2 0D: UNSUBSCRIBE, 13 bytes. 00 01: id 1. 00: no properties. 00 08 "$share/g".
  EXPECT_TRUE(Refuses(Hex("A2 0D 00 01 00 00 08 24 73 68 61 72 65 2F 67"), ClientToServer(), kV5,
                      DecodeError::kInvalidSharedSubscription, kFilterInvalid));
}

// ---- Subscription options -----------------------------------------------------------

TEST(DecodeSubscribe, AcceptsEveryV5OptionOnAnOrdinaryFilter) {
  // 82 07: SUBSCRIBE, 7 bytes. 00 01: id 1. 00: no properties. 00 01 61: "a".
  // 2E: retain handling 2, retain as published, no local, QoS 2.
  Subscribe expected;
  expected.packet_id = 1;
  expected.subscriptions.push_back({.filter = "a",
                                    .qos = 2,
                                    .no_local = true,
                                    .retain_as_published = true,
                                    .retain_handling = 2});
  EXPECT_TRUE(DecodesTo(Hex("82 07 00 01 00 00 01 61 2E"), ClientToServer(), kV5, expected));
}

TEST(DecodeSubscribe, RejectsReservedOptionBitsInV311) {
  // 82 06: SUBSCRIBE, 6 bytes. 00 01: id 1. 00 01 61: "a". 04: bit 2 set; in 3.1.1 only
  // the two QoS bits may be used [MQTT-3.8.3-4 in 3.1.1].
  EXPECT_TRUE(Refuses(Hex("82 06 00 01 00 01 61 04"), ClientToServer(), kV311,
                      DecodeError::kInvalidSubscriptionOptions, kMalformed));
}

TEST(DecodeSubscribe, RejectsReservedOptionBitsInV5) {
  // 82 07: SUBSCRIBE, 7 bytes. 00 01: id 1. 00: no properties. 00 01 61: "a".
  // C0: the two reserved bits 7 and 6 [MQTT-3.8.3-5].
  EXPECT_TRUE(Refuses(Hex("82 07 00 01 00 00 01 61 C0"), ClientToServer(), kV5,
                      DecodeError::kInvalidSubscriptionOptions, kMalformed));
}

TEST(DecodeSubscribe, RejectsRetainHandling3) {
  // 82 07: SUBSCRIBE, 7 bytes. 00 01: id 1. 00: no properties. 00 01 61: "a".
  // 30: retain handling 3 (spec 3.8.3.1: a Protocol Error).
  EXPECT_TRUE(Refuses(Hex("82 07 00 01 00 00 01 61 30"), ClientToServer(), kV5,
                      DecodeError::kInvalidRetainHandling, kProtocolError));
}

TEST(DecodeSubscribe, RejectsRequestedQos3) {
  // 82 06: SUBSCRIBE, 6 bytes. 00 01: id 1. 00 01 61: "a". 03: QoS 3.
  EXPECT_TRUE(Refuses(Hex("82 06 00 01 00 01 61 03"), ClientToServer(), kV311,
                      DecodeError::kInvalidQos, kMalformed));
}

TEST(DecodeSubscribe, RejectsFilterWithoutOptionsByte) {
  // 82 05: SUBSCRIBE, 5 bytes. 00 01: id 1. 00 01 61: "a", and no options byte.
  EXPECT_TRUE(Refuses(Hex("82 05 00 01 00 01 61"), ClientToServer(), kV311, DecodeError::kTruncated,
                      kMalformed));
}

// ---- Empty payloads and packet identifiers -------------------------------------------

TEST(DecodeSubscribe, RejectsSubscribeWithoutFilters) {
  // 82 02: SUBSCRIBE, 2 bytes. 00 01: id 1, and no filter [MQTT-3.8.3-3].
  EXPECT_TRUE(Refuses(Hex("82 02 00 01"), ClientToServer(), kV311, DecodeError::kEmptySubscribe,
                      kProtocolError));
  // 82 03: 3 bytes. 00 01: id 1. 00: no properties, and no filter [MQTT-3.8.3-2 in v5].
  EXPECT_TRUE(Refuses(Hex("82 03 00 01 00"), ClientToServer(), kV5, DecodeError::kEmptySubscribe,
                      kProtocolError));
}

TEST(DecodeSubscribe, RejectsUnsubscribeWithoutFilters) {
  // A2 02: UNSUBSCRIBE, 2 bytes. 00 01: id 1, and no filter [MQTT-3.10.3-2].
  EXPECT_TRUE(Refuses(Hex("A2 02 00 01"), ClientToServer(), kV311, DecodeError::kEmptyUnsubscribe,
                      kProtocolError));
  // A2 03: 3 bytes. 00 01: id 1. 00: no properties, and no filter.
  EXPECT_TRUE(Refuses(Hex("A2 03 00 01 00"), ClientToServer(), kV5, DecodeError::kEmptyUnsubscribe,
                      kProtocolError));
}

TEST(DecodeSubscribe, RejectsZeroPacketIdOnSubscribe) {
  // 82 06: SUBSCRIBE, 6 bytes. 00 00: packet id 0 [MQTT-2.2.1-3]. 00 01 61: "a". 00: QoS 0.
  EXPECT_TRUE(Refuses(Hex("82 06 00 00 00 01 61 00"), ClientToServer(), kV311,
                      DecodeError::kZeroPacketId, kMalformed));
}

TEST(DecodeSubscribe, RejectsZeroPacketIdOnUnsubscribe) {
  // A2 05: UNSUBSCRIBE, 5 bytes. 00 00: packet id 0 [MQTT-2.2.1-3]. 00 01 61: "a".
  EXPECT_TRUE(Refuses(Hex("A2 05 00 00 00 01 61"), ClientToServer(), kV311,
                      DecodeError::kZeroPacketId, kMalformed));
}

}  // namespace
}  // namespace moat::mqtt::test
