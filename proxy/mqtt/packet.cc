#include "proxy/mqtt/packet.h"

namespace moat::mqtt {
namespace {

template <typename T>
constexpr PacketType kTypeOf = T::kPacketType;
template <>
constexpr PacketType kTypeOf<Connect> = PacketType::kConnect;
template <>
constexpr PacketType kTypeOf<Connack> = PacketType::kConnack;
template <>
constexpr PacketType kTypeOf<Publish> = PacketType::kPublish;
template <>
constexpr PacketType kTypeOf<Subscribe> = PacketType::kSubscribe;
template <>
constexpr PacketType kTypeOf<Suback> = PacketType::kSuback;
template <>
constexpr PacketType kTypeOf<Unsubscribe> = PacketType::kUnsubscribe;
template <>
constexpr PacketType kTypeOf<Unsuback> = PacketType::kUnsuback;
template <>
constexpr PacketType kTypeOf<Pingreq> = PacketType::kPingreq;
template <>
constexpr PacketType kTypeOf<Pingresp> = PacketType::kPingresp;
template <>
constexpr PacketType kTypeOf<Disconnect> = PacketType::kDisconnect;
template <>
constexpr PacketType kTypeOf<Auth> = PacketType::kAuth;

}  // namespace

PacketType TypeOf(const Packet& packet) {
  return std::visit([](const auto& p) { return kTypeOf<std::decay_t<decltype(p)>>; }, packet);
}

std::string_view PacketTypeName(PacketType type) {
  switch (type) {
    case PacketType::kReserved:
      return "reserved";
    case PacketType::kConnect:
      return "connect";
    case PacketType::kConnack:
      return "connack";
    case PacketType::kPublish:
      return "publish";
    case PacketType::kPuback:
      return "puback";
    case PacketType::kPubrec:
      return "pubrec";
    case PacketType::kPubrel:
      return "pubrel";
    case PacketType::kPubcomp:
      return "pubcomp";
    case PacketType::kSubscribe:
      return "subscribe";
    case PacketType::kSuback:
      return "suback";
    case PacketType::kUnsubscribe:
      return "unsubscribe";
    case PacketType::kUnsuback:
      return "unsuback";
    case PacketType::kPingreq:
      return "pingreq";
    case PacketType::kPingresp:
      return "pingresp";
    case PacketType::kDisconnect:
      return "disconnect";
    case PacketType::kAuth:
      return "auth";
  }
  return "unknown";
}

}  // namespace moat::mqtt
