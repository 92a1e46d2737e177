// Sender side of the PROXY protocol: the header moat puts in front of its link to the
// broker (upstream.proxy_protocol), so the broker sees the client moat serves instead of
// moat. Pure: fields in, bytes out; the link writes them before TLS and MQTT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/proxy_protocol/tlv.h"

namespace moat::proxy_protocol {

struct HeaderFields {
  // The client and the address it connected to. nullopt: a link moat opens for itself
  // (a readiness probe), sent as v1 UNKNOWN or v2 LOCAL, which tell the receiver to use
  // the connection's own endpoints.
  std::optional<ProxiedAddresses> addresses;
  // v2 only; each is left out when nullopt or empty.
  std::optional<SslTlv> ssl;
  std::string user;
  std::string client_id;
};

// "PROXY TCP4 ...\r\n", "PROXY TCP6 ...\r\n" or "PROXY UNKNOWN\r\n". Two IPv4 addresses
// (IPv4-mapped IPv6 ones included) make TCP4; otherwise TCP6, with any IPv4 address
// mapped. nullopt when an address is not an IP literal.
std::optional<std::string> WriteV1(const std::optional<ProxiedAddresses>& addresses);

// The binary header, TLVs after the addresses (PP2_TYPE_SSL, then moat's). nullopt when
// an address is not an IP literal or the TLVs do not fit the 16-bit length fields.
std::optional<std::vector<uint8_t>> WriteV2(const HeaderFields& fields);

}  // namespace moat::proxy_protocol
