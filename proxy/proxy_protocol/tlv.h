// The PROXY v2 TLVs moat sends towards the broker and can read back (spec 2.2): the
// registered PP2_TYPE_SSL with its sub-TLVs, and moat's own types from the range the
// spec reserves for applications (0xE0-0xEF), which the README's table documents.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/proxy_protocol/proxy_protocol.h"

namespace moat::proxy_protocol {

inline constexpr uint8_t kTypeCrc32c = 0x03;
inline constexpr uint8_t kTypeSsl = 0x20;
inline constexpr uint8_t kSubtypeSslVersion = 0x21;
inline constexpr uint8_t kSubtypeSslCn = 0x22;
inline constexpr uint8_t kSubtypeSslCipher = 0x23;
// moat's: the identity it authenticated (the user name; absent for an anonymous client)
// and the client id of the CONNECT, both UTF-8 as the client sent them.
inline constexpr uint8_t kTypeMoatUser = 0xE0;
inline constexpr uint8_t kTypeMoatClientId = 0xE1;

// The <client> bits of PP2_TYPE_SSL.
inline constexpr uint8_t kClientSsl = 0x01;       // the client connected over TLS
inline constexpr uint8_t kClientCertConn = 0x02;  // ... and sent a certificate on this connection
inline constexpr uint8_t kClientCertSess = 0x04;  // ... or once in the TLS session it resumed

// The value of a PP2_TYPE_SSL TLV: `verify` is 0 when the client presented a certificate
// and it verified, non-zero otherwise. Empty strings are sub-TLVs not present.
struct SslTlv {
  uint8_t client = 0;
  uint32_t verify = 0;
  std::string version;  // "TLSv1.3"
  std::string cn;       // the verified client certificate's subject CN
  std::string cipher;   // OpenSSL's name, "TLS_AES_256_GCM_SHA384"
  bool operator==(const SslTlv&) const = default;
};

// nullopt when the value is shorter than its 5 fixed bytes or its sub-TLVs do not tile
// it exactly. Sub-TLVs of other types are skipped, as the spec allows.
std::optional<SslTlv> DecodeSslTlv(std::string_view value);

// The value of the first TLV of `type`, or nullopt.
std::optional<std::string_view> FindTlv(std::span<const Tlv> tlvs, uint8_t type);

}  // namespace moat::proxy_protocol
