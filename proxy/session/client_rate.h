// The message and byte buckets of one client (limits.messages_per_second and
// bytes_per_second, or a policy `limits` entry). Sans-IO: the relay passes the time in,
// asks Held() before it decodes the client's next packet, and Spend()s each one.
//
// A bucket lets packets through while it holds a whole token; a packet spends its whole
// cost (1 per PUBLISH, or its bytes), which may overdraw the byte bucket, and the client
// then waits until the debt is repaid. So a packet larger than the burst still passes
// (after a wait), and over any stretch the client gets at most burst + rate × seconds
// (plus one packet's bytes).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "policy/authorizer.h"
#include "policy/denial.h"
#include "policy/rate_limits.h"
#include "proxy/config/config.h"
#include "proxy/session/keep_alive.h"

namespace moat::proxy {

// One rate in force for a client, with where it comes from; `rule` is copied, as the
// policy snapshot it came from may be replaced while the session lives.
struct RateInForce {
  policy::Rate rate;
  std::string rule;  // a policy `limits` entry id; empty: moat.yaml's `limits`
  uint16_t rule_label = 0;
};

struct ClientRates {
  RateInForce messages;
  RateInForce bytes;
};

// moat.yaml's rates, with what the policy says for this client in their place.
ClientRates ResolveRates(const config::ClientRateLimits& configured,
                         const policy::RateOverrides& overrides);

// For `moat policy explain`: "" when no rate limits the client, else one line such as
//   rate: messages_per_second 10 (burst 20) by limits entry sensors at policy.yaml:30;
//   bytes_per_second unlimited
std::string DescribeRates(const ClientRates& rates, const policy::Authorizer& authorizer);

class ClientRate {
 public:
  // What holds the client back, and until when.
  struct Hold {
    SteadyTime until;
    policy::DenyReason reason;  // kMessageRate or kByteRate
    const RateInForce* rate;    // the exceeded one, owned by the ClientRate
  };

  ClientRate() = default;  // unlimited
  ClientRate(const ClientRates& rates, SteadyTime now) { Update(rates, now); }

  // New rates (a reload): each bucket keeps what it held, up to its new burst.
  void Update(const ClientRates& rates, SteadyTime now);
  bool limited() const { return limited_; }

  // nullopt: the client may send on.
  std::optional<Hold> Held(SteadyTime now);
  void Spend(bool publish, size_t bytes) {
    messages_.tokens -= publish ? 1 : 0;
    bytes_.tokens -= static_cast<double>(bytes);
  }

 private:
  struct Bucket {
    RateInForce in_force;
    double tokens = 0;
    SteadyTime refilled{};

    bool limited() const { return !in_force.rate.unlimited(); }
    // When it holds something again; nullopt if it does now.
    std::optional<SteadyTime> EmptyUntil(SteadyTime now);
  };

  Bucket messages_;
  Bucket bytes_;
  bool limited_ = false;
};

}  // namespace moat::proxy
