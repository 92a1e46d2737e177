#include "policy/acl/rate_table.h"

#include <algorithm>
#include <utility>

namespace moat::policy {

void RateTable::Add(RateLimitSpec spec) {
  std::sort(spec.users.begin(), spec.users.end());
  std::sort(spec.groups.begin(), spec.groups.end());
  entries_.push_back(std::move(spec));
}

bool RateTable::Selects(const RateLimitSpec& entry, const ClientIdentity& client) {
  if (!entry.everyone) {
    const bool named =
        client.username.empty()
            ? entry.anonymous
            : std::binary_search(entry.users.begin(), entry.users.end(), client.username);
    const bool in_group =
        std::any_of(client.groups.begin(), client.groups.end(), [&](const std::string& group) {
          return std::binary_search(entry.groups.begin(), entry.groups.end(), group);
        });
    if (!named && !in_group) return false;
  }
  // A rate is no grant: an address that cannot be parsed is outside every range, as for
  // an allow rule.
  return entry.conditions.Matches(client, /*for_deny=*/false);
}

RateOverrides RateTable::For(const ClientIdentity& client) const {
  RateOverrides out;
  auto consider = [](const RateLimitSpec& entry, const std::optional<Rate>& rate,
                     std::optional<SourcedRate>& best) {
    if (!rate) return;
    if (best && !rate->StricterThan(best->rate)) return;
    best = SourcedRate{*rate, entry.id, entry.label};
  };
  for (const RateLimitSpec& entry : entries_) {
    if (!Selects(entry, client)) continue;
    consider(entry, entry.messages, out.messages);
    consider(entry, entry.bytes, out.bytes);
  }
  return out;
}

}  // namespace moat::policy
