#include "proxy/proxy_protocol/header_writer.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <utility>

namespace moat::proxy_protocol {
namespace {

constexpr uint8_t kVersion2Local = 0x20;
constexpr uint8_t kVersion2Proxy = 0x21;
constexpr uint8_t kTcp4 = 0x11;
constexpr uint8_t kTcp6 = 0x21;
constexpr size_t kMaxLength = 0xFFFF;

// Both ends in one family: IPv4 when both are IPv4 (or IPv4-mapped), else IPv6.
struct BinaryEndpoints {
  bool v4 = false;
  std::array<uint8_t, 16> source{};
  std::array<uint8_t, 16> destination{};
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
};

// The 16-byte IPv6 form of `text` (IPv4 as ::ffff:a.b.c.d), and whether it is IPv4.
std::optional<std::pair<std::array<uint8_t, 16>, bool>> ToIpv6(const std::string& text) {
  std::array<uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xFF;
    std::memcpy(out.data() + 12, &v4, 4);
    return std::pair{out, true};
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) != 1) return std::nullopt;
  constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::pair{out, std::equal(kMapped.begin(), kMapped.end(), out.begin())};
}

std::optional<BinaryEndpoints> ToBinary(const ProxiedAddresses& addresses) {
  const auto source = ToIpv6(addresses.source.ip);
  const auto destination = ToIpv6(addresses.destination.ip);
  if (!source || !destination) return std::nullopt;
  return BinaryEndpoints{source->second && destination->second, source->first, destination->first,
                         addresses.source.port, addresses.destination.port};
}

std::string IpText(const std::array<uint8_t, 16>& address, bool v4) {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? address.data() + 12 : address.data(), out, sizeof(out));
  return out;
}

void PutU16(std::vector<uint8_t>& out, size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value & 0xFF));
}

// false when the value does not fit a TLV's 16-bit length.
bool PutTlv(std::vector<uint8_t>& out, uint8_t type, std::string_view value) {
  if (value.size() > kMaxLength) return false;
  out.push_back(type);
  PutU16(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
  return true;
}

std::optional<std::vector<uint8_t>> SslValue(const SslTlv& ssl) {
  std::vector<uint8_t> value = {
      ssl.client, static_cast<uint8_t>(ssl.verify >> 24), static_cast<uint8_t>(ssl.verify >> 16),
      static_cast<uint8_t>(ssl.verify >> 8), static_cast<uint8_t>(ssl.verify)};
  for (const auto& [type, text] :
       {std::pair{kSubtypeSslVersion, &ssl.version}, std::pair{kSubtypeSslCn, &ssl.cn},
        std::pair{kSubtypeSslCipher, &ssl.cipher}}) {
    if (!text->empty() && !PutTlv(value, type, *text)) return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<std::string> WriteV1(const std::optional<ProxiedAddresses>& addresses) {
  if (!addresses) return "PROXY UNKNOWN\r\n";
  const std::optional<BinaryEndpoints> binary = ToBinary(*addresses);
  if (!binary) return std::nullopt;
  return std::string("PROXY ") + (binary->v4 ? "TCP4 " : "TCP6 ") +
         IpText(binary->source, binary->v4) + " " + IpText(binary->destination, binary->v4) + " " +
         std::to_string(binary->source_port) + " " + std::to_string(binary->destination_port) +
         "\r\n";
}

std::optional<std::vector<uint8_t>> WriteV2(const HeaderFields& fields) {
  std::vector<uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  if (!fields.addresses) {
    // LOCAL carries no addresses, and the receiver discards whatever follows.
    out.insert(out.end(), {kVersion2Local, 0x00, 0x00, 0x00});
    return out;
  }
  const std::optional<BinaryEndpoints> binary = ToBinary(*fields.addresses);
  if (!binary) return std::nullopt;
  out.push_back(kVersion2Proxy);
  out.push_back(binary->v4 ? kTcp4 : kTcp6);
  PutU16(out, 0);  // the length, filled in below
  const size_t offset = binary->v4 ? 12 : 0;
  out.insert(out.end(), binary->source.begin() + offset, binary->source.end());
  out.insert(out.end(), binary->destination.begin() + offset, binary->destination.end());
  PutU16(out, binary->source_port);
  PutU16(out, binary->destination_port);
  if (fields.ssl) {
    const std::optional<std::vector<uint8_t>> value = SslValue(*fields.ssl);
    if (!value ||
        !PutTlv(out, kTypeSsl,
                std::string_view(reinterpret_cast<const char*>(value->data()), value->size()))) {
      return std::nullopt;
    }
  }
  if (!fields.user.empty() && !PutTlv(out, kTypeMoatUser, fields.user)) return std::nullopt;
  if (!fields.client_id.empty() && !PutTlv(out, kTypeMoatClientId, fields.client_id)) {
    return std::nullopt;
  }
  const size_t length = out.size() - kV2FixedHeaderSize;
  if (length > kMaxLength) return std::nullopt;
  out[14] = static_cast<uint8_t>(length >> 8);
  out[15] = static_cast<uint8_t>(length & 0xFF);
  return out;
}

}  // namespace moat::proxy_protocol
