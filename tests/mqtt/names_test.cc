// Names used as metric labels and in logs, TypeOf(), and the DecodeError -> ReasonCode
// mapping as a whole (each refusal test checks its own error's reason code).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy/mqtt/decode_error.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/mqtt/packet.h"
#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

constexpr auto kLastDecodeError = DecodeError::kInvalidTopicAlias;

bool IsSnakeCase(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

TEST(Names, EveryDecodeErrorHasADistinctSnakeCaseName) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(kLastDecodeError); ++i) {
    const std::string_view name = DecodeErrorName(static_cast<DecodeError>(i));
    EXPECT_TRUE(IsSnakeCase(name)) << i << ": " << name;
    EXPECT_NE(name, "unknown") << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(DecodeErrorName(DecodeError::kNone), "none");
}

TEST(Names, EveryDecodeErrorMapsToAFailureReasonCode) {
  EXPECT_EQ(ReasonCodeFor(DecodeError::kNone), ReasonCode::kSuccess);
  for (int i = 1; i <= static_cast<int>(kLastDecodeError); ++i) {
    const auto error = static_cast<DecodeError>(i);
    EXPECT_GE(static_cast<int>(ReasonCodeFor(error)), 0x80) << DecodeErrorName(error);
  }
}

TEST(Names, EveryEncodeErrorHasADistinctName) {
  std::set<std::string_view> names;
  for (EncodeError error : {EncodeError::kNone, EncodeError::kFieldTooLong,
                            EncodeError::kPacketTooLarge, EncodeError::kInvalidForVersion}) {
    const std::string_view name = EncodeErrorName(error);
    EXPECT_TRUE(IsSnakeCase(name)) << name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
}

TEST(Names, EveryPacketTypeHasADistinctName) {
  std::set<std::string_view> names;
  for (int i = 0; i <= 15; ++i) {
    const std::string_view name = PacketTypeName(static_cast<PacketType>(i));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
}

TEST(Names, TypeOfNamesEveryAlternative) {
  EXPECT_EQ(TypeOf(Connect{}), PacketType::kConnect);
  EXPECT_EQ(TypeOf(Connack{}), PacketType::kConnack);
  EXPECT_EQ(TypeOf(Publish{}), PacketType::kPublish);
  EXPECT_EQ(TypeOf(Puback{}), PacketType::kPuback);
  EXPECT_EQ(TypeOf(Pubrec{}), PacketType::kPubrec);
  EXPECT_EQ(TypeOf(Pubrel{}), PacketType::kPubrel);
  EXPECT_EQ(TypeOf(Pubcomp{}), PacketType::kPubcomp);
  EXPECT_EQ(TypeOf(Subscribe{}), PacketType::kSubscribe);
  EXPECT_EQ(TypeOf(Suback{}), PacketType::kSuback);
  EXPECT_EQ(TypeOf(Unsubscribe{}), PacketType::kUnsubscribe);
  EXPECT_EQ(TypeOf(Unsuback{}), PacketType::kUnsuback);
  EXPECT_EQ(TypeOf(Pingreq{}), PacketType::kPingreq);
  EXPECT_EQ(TypeOf(Pingresp{}), PacketType::kPingresp);
  EXPECT_EQ(TypeOf(Disconnect{}), PacketType::kDisconnect);
  EXPECT_EQ(TypeOf(Auth{}), PacketType::kAuth);
}

}  // namespace
}  // namespace moat::mqtt::test
