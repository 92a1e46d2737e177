// Receiver side of HAProxy's PROXY protocol (doc/proxy-protocol.txt in HAProxy's tree),
// versions 1 (text) and 2 (binary): the header a load balancer puts in front of the
// client's bytes to tell moat who the client really is.
//
// Sans-IO, like proxy/mqtt: the session keeps the bytes it has read and calls
// ParseProxyHeader() on all of them after every read, until the answer is kDone (drop
// `consumed` bytes, the MQTT stream starts after them) or kError (close the connection).
//
//   socket bytes --> [ session buffer ] --ParseProxyHeader--> kNeedMore: read again
//                                                         --> kDone: addresses, consumed
//                                                         --> kError: close
//
// The parser refuses anything that does not match the spec exactly: a listener that
// expects the header must never guess (spec section 2: guessing would let untrusted
// parties spoof their address). It answers kError as soon as the bytes seen can no
// longer start a valid header, so a client that speaks MQTT straight away is refused at
// its first byte instead of waiting for a timeout.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace moat::proxy_protocol {

// Which header versions a listener accepts (config: proxy_protocol v1|v2|any).
enum class ProxyProtocolVersionAllowed { kV1, kV2, kAny };

enum class ParseStatus { kNeedMore, kDone, kError };

struct SocketAddress {
  std::string ip;  // canonical text from inet_ntop: "192.0.2.1", "2001:db8::1"
  uint16_t port = 0;
  bool operator==(const SocketAddress&) const = default;
};

struct ProxiedAddresses {
  SocketAddress source;       // the client, as the load balancer saw it
  SocketAddress destination;  // the address the client connected to
  bool operator==(const ProxiedAddresses&) const = default;
};

// One v2 Type-Length-Value field (spec 2.2) as sent; proxy/proxy_protocol/tlv.h names
// the types and decodes PP2_TYPE_SSL.
struct Tlv {
  uint8_t type = 0;
  std::string value;
  bool operator==(const Tlv&) const = default;
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  // kDone: length of the header; the MQTT bytes start here
  int version = 0;      // kDone: 1 or 2
  // kDone with a TCP over IPv4/IPv6 header. Empty for v2 LOCAL, v1 UNKNOWN and v2
  // families or transports moat does not use (UNSPEC, UNIX, DGRAM); the spec says to
  // use the connection's real endpoints then, which `is_local` signals.
  std::optional<ProxiedAddresses> addresses;
  bool is_local = false;
  // kDone with a v2 PROXY command: its TLVs in the order sent (a CRC32c one included,
  // already checked). Empty for v1 and for LOCAL, whose block the spec says to discard.
  std::vector<Tlv> tlvs;
  std::string error;  // kError: what was wrong, for the session's close log
};

// v1: "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n" is the longest
// line the spec allows; a line without CRLF by then is invalid (spec 2.1).
inline constexpr size_t kMaxV1HeaderSize = 107;
inline constexpr size_t kV2FixedHeaderSize = 16;
inline constexpr std::array<uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// The v2 length field could announce 64 KiB, which an unauthenticated peer could make
// every pending connection buffer. Addresses take at most 216 bytes (AF_UNIX) and the
// TLVs real load balancers send (SSL, authority, unique id, cloud ids) a few hundred;
// 2 KiB leaves room for both.
inline constexpr size_t kMaxV2PayloadSize = 2048;
// The most bytes ParseProxyHeader() ever needs to reach kDone or kError.
inline constexpr size_t kMaxHeaderSize = kV2FixedHeaderSize + kMaxV2PayloadSize;

// Parses the PROXY header at the start of `bytes` (everything received so far). Returns
// kNeedMore while `bytes` is a proper prefix of a header that may still be valid.
ParseResult ParseProxyHeader(std::span<const uint8_t> bytes, ProxyProtocolVersionAllowed allowed);

}  // namespace moat::proxy_protocol
