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
#include "policy/network.h"

namespace moat::policy {

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
