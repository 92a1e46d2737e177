// Conditions a native-policy rule puts on the client, beyond who it is: client id globs,
// certificate identities, source address ranges and listeners.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/authorizer.h"

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

// '*' matches any run of bytes (also none), '?' exactly one byte; everything else itself.
// At most (glob + 1) * (text + 1) steps, and linear in the text for a fixed glob however
// many '*' it holds: client ids are the client's to choose. `steps`, when given, receives
// the number taken, so tests can hold the matcher to that bound.
bool GlobMatches(std::string_view glob, std::string_view text, size_t* steps = nullptr);

struct ClientConditions {
  // Each list, when not empty, must match (any one entry of it); all lists must match.
  std::vector<std::string> client_id_globs;
  std::vector<std::string> cert_identities;
  std::vector<Cidr> addresses;
  std::vector<std::string> listeners;

  bool empty() const {
    return client_id_globs.empty() && cert_identities.empty() && addresses.empty() &&
           listeners.empty();
  }
  // For a deny rule (`for_deny`), a client address that cannot be parsed counts as inside
  // every range: an unknown fact never lifts a deny. For an allow rule it is outside.
  bool Matches(const ClientIdentity& client, bool for_deny) const;
};

}  // namespace moat::policy
