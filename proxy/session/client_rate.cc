#include "proxy/session/client_rate.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace moat::proxy {

namespace {

RateInForce InForce(const policy::Rate& configured,
                    const std::optional<policy::SourcedRate>& override_rate) {
  if (!override_rate) return {configured, {}, 0};
  return {override_rate->rate, std::string(override_rate->rule), override_rate->rule_label};
}

// Whole numbers as such: "1000000", not "1e+06".
std::string Number(double value) {
  if (value == std::floor(value) && value < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

std::string Describe(const char* key, const RateInForce& in_force,
                     const policy::Authorizer& authorizer) {
  if (in_force.rate.unlimited()) return absl::StrCat(key, " unlimited");
  std::string text = absl::StrCat(key, " ", Number(in_force.rate.per_second), " (burst ",
                                  Number(in_force.rate.burst), ") ");
  if (in_force.rule.empty()) return absl::StrCat(text, "by limits in the config");
  absl::StrAppend(&text, "by limits entry ", in_force.rule);
  const std::string_view location = authorizer.RuleLocation(in_force.rule);
  if (!location.empty()) absl::StrAppend(&text, " at ", std::string(location));
  return text;
}

}  // namespace

ClientRates ResolveRates(const config::ClientRateLimits& configured,
                         const policy::RateOverrides& overrides) {
  return {InForce(configured.messages, overrides.messages),
          InForce(configured.bytes, overrides.bytes)};
}

std::string DescribeRates(const ClientRates& rates, const policy::Authorizer& authorizer) {
  if (rates.messages.rate.unlimited() && rates.bytes.rate.unlimited()) return {};
  return absl::StrCat("rate: ", Describe("messages_per_second", rates.messages, authorizer), "; ",
                      Describe("bytes_per_second", rates.bytes, authorizer));
}

void ClientRate::Update(const ClientRates& rates, SteadyTime now) {
  for (auto [bucket, in_force] :
       {std::pair{&messages_, &rates.messages}, std::pair{&bytes_, &rates.bytes}}) {
    const bool was_limited = bucket->limited();
    if (was_limited) bucket->EmptyUntil(now);  // brings `tokens` up to now
    bucket->in_force = *in_force;
    bucket->tokens =
        was_limited ? std::min(bucket->tokens, in_force->rate.burst) : in_force->rate.burst;
    bucket->refilled = now;
  }
  limited_ = messages_.limited() || bytes_.limited();
}

std::optional<SteadyTime> ClientRate::Bucket::EmptyUntil(SteadyTime now) {
  const policy::Rate& rate = in_force.rate;
  if (now > refilled) {
    const double elapsed = std::chrono::duration<double>(now - refilled).count();
    tokens = std::min(rate.burst, tokens + elapsed * rate.per_second);
    refilled = now;
  }
  if (tokens >= 1) return std::nullopt;
  // Rounded up, and a microsecond more, so that the bucket holds a whole token at `until`.
  const double wait_ns = std::ceil((1 - tokens) / rate.per_second * 1e9) + 1e3;
  return now + std::chrono::nanoseconds(static_cast<int64_t>(std::min(wait_ns, 1e18)));
}

std::optional<ClientRate::Hold> ClientRate::Held(SteadyTime now) {
  if (messages_.limited()) {
    if (const auto until = messages_.EmptyUntil(now)) {
      return Hold{*until, policy::DenyReason::kMessageRate, &messages_.in_force};
    }
  }
  if (bytes_.limited()) {
    if (const auto until = bytes_.EmptyUntil(now)) {
      return Hold{*until, policy::DenyReason::kByteRate, &bytes_.in_force};
    }
  }
  return std::nullopt;
}

}  // namespace moat::proxy
