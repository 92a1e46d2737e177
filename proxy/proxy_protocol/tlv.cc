#include "proxy/proxy_protocol/tlv.h"

namespace moat::proxy_protocol {

std::optional<SslTlv> DecodeSslTlv(std::string_view value) {
  constexpr size_t kFixed = 5;  // uint8_t client, uint32_t verify
  if (value.size() < kFixed) return std::nullopt;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(value[i]); };
  SslTlv ssl;
  ssl.client = byte(0);
  ssl.verify = static_cast<uint32_t>(byte(1)) << 24 | static_cast<uint32_t>(byte(2)) << 16 |
               static_cast<uint32_t>(byte(3)) << 8 | byte(4);
  size_t at = kFixed;
  while (at < value.size()) {
    if (value.size() - at < 3) return std::nullopt;
    const uint8_t type = byte(at);
    const size_t length = static_cast<size_t>(byte(at + 1)) << 8 | byte(at + 2);
    at += 3;
    if (value.size() - at < length) return std::nullopt;
    const std::string_view sub = value.substr(at, length);
    switch (type) {
      case kSubtypeSslVersion:
        ssl.version = sub;
        break;
      case kSubtypeSslCn:
        ssl.cn = sub;
        break;
      case kSubtypeSslCipher:
        ssl.cipher = sub;
        break;
      default:
        break;
    }
    at += length;
  }
  return ssl;
}

std::optional<std::string_view> FindTlv(std::span<const Tlv> tlvs, uint8_t type) {
  for (const Tlv& tlv : tlvs) {
    if (tlv.type == type) return tlv.value;
  }
  return std::nullopt;
}

}  // namespace moat::proxy_protocol
