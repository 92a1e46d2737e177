#include "policy/acl/conditions.h"

#include <algorithm>
#include <cstring>

namespace moat::policy {

bool GlobMatches(std::string_view glob, std::string_view text, size_t* steps) {
  // Greedy match with one backtrack point, the last '*', which only moves forward: an
  // earlier '*' is never retried, since the last one can absorb whatever it would.
  size_t g = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  size_t taken = 0;
  bool matched = true;
  while (t < text.size()) {
    ++taken;
    if (g < glob.size() && (glob[g] == '?' || (glob[g] != '*' && glob[g] == text[t]))) {
      ++g;
      ++t;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++resume;
    } else {
      matched = false;
      break;
    }
  }
  if (matched) {
    while (g < glob.size() && glob[g] == '*') ++g;
    matched = g == glob.size();
  }
  if (steps != nullptr) *steps = taken;
  return matched;
}

bool ClientConditions::Matches(const ClientIdentity& client, bool for_deny) const {
  if (!client_id_globs.empty() &&
      std::none_of(client_id_globs.begin(), client_id_globs.end(),
                   [&](const std::string& glob) { return GlobMatches(glob, client.client_id); })) {
    return false;
  }
  if (!cert_identities.empty() &&
      (client.cert_identity.empty() || std::find(cert_identities.begin(), cert_identities.end(),
                                                 client.cert_identity) == cert_identities.end())) {
    return false;
  }
  if (!listeners.empty() &&
      std::find(listeners.begin(), listeners.end(), client.listener) == listeners.end()) {
    return false;
  }
  if (!addresses.empty()) {
    const std::optional<std::array<uint8_t, 16>> address = ParseAddress(client.address);
    if (!address) return for_deny;
    return std::any_of(addresses.begin(), addresses.end(),
                       [&](const Cidr& cidr) { return CidrContains(cidr, *address); });
  }
  return true;
}

}  // namespace moat::policy
