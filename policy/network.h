// Addresses and networks, as rules and listeners name them ("10.0.0.0/8", "::1").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moat::policy {

// An IPv4 or IPv6 network. IPv4 is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so
// an IPv4 client reaching an IPv6 listener still matches "10.0.0.0/8".
struct Cidr {
  std::array<uint8_t, 16> network{};
  int prefix = 0;  // in IPv6 bits (an IPv4 /8 is /104 here)
};

// "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7" = /32, "::1" = /128). Host
// bits past the prefix are an error (naming the network meant), as is anything else that
// does not parse; `error` says which.
std::optional<Cidr> ParseCidr(std::string_view text, std::string* error);
// A client address as moat records it: "192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7",
// optionally in brackets. nullopt when it does not parse.
std::optional<std::array<uint8_t, 16>> ParseAddress(std::string_view text);
bool CidrContains(const Cidr& cidr, const std::array<uint8_t, 16>& address);

// What one source is, for counting and banning: an IPv4 address whole ("192.0.2.7"), an
// IPv6 address by its /64 ("2001:db8:0:1::/64"), which one host usually has to itself and
// can fill with addresses at will. Text that is no address is its own key.
std::string SourceKey(std::string_view address);

}  // namespace moat::policy
