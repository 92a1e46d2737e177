// Per-client rates: messages (PUBLISH packets) and bytes (every packet) a second from
// the client, each a token bucket with a burst. `limits` in moat.yaml sets them for
// everyone; the native policy's `limits` entries override them for the clients they
// select. The policy only says which rate applies; the data path keeps the buckets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

namespace moat::policy {

// The largest rate or burst a config or policy may name: past it a rate limits nothing.
inline constexpr double kLargestRate = 1e12;

struct Rate {
  double per_second = 0;  // 0: unlimited
  double burst = 0;       // what may be spent at once; at least 1

  // The burst when none is given: a second's worth, and never less than one packet.
  static double SecondsWorth(double per_second) { return std::max(per_second, 1.0); }

  bool unlimited() const { return per_second <= 0; }
  // The stricter of two rates: a lower rate, whatever the bursts (0 is the highest).
  bool StricterThan(const Rate& other) const {
    if (unlimited()) return false;
    return other.unlimited() || per_second < other.per_second ||
           (per_second == other.per_second && burst < other.burst);
  }
};

// A rate and where it comes from: a policy `limits` entry's id, or empty for moat.yaml's
// `limits` (rule "default" in metrics).
struct SourcedRate {
  Rate rate;
  std::string_view rule{};  // points into the policy snapshot
  uint16_t rule_label = 0;  // RuleLabels number for moat_denials_total{rule}
};

// What a policy says about one client; a rate left unset keeps moat.yaml's.
struct RateOverrides {
  std::optional<SourcedRate> messages;
  std::optional<SourcedRate> bytes;
};

}  // namespace moat::policy
