#include "policy/payload/payload_format.h"

namespace moat::policy {

std::string_view PayloadFormatName(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kAny:
      return "any";
    case PayloadFormat::kSparkplugB:
      return "sparkplug_b";
  }
  return "unknown";
}

std::optional<PayloadFormat> ParsePayloadFormat(std::string_view name) {
  if (name == "sparkplug_b") return PayloadFormat::kSparkplugB;
  return std::nullopt;
}

std::string_view PayloadFormatNames() { return "sparkplug_b"; }

bool PayloadMatches(PayloadFormat format, std::string_view payload) {
  switch (format) {
    case PayloadFormat::kAny:
      return true;
    case PayloadFormat::kSparkplugB:
      return IsSparkplugPayload(payload);
  }
  return false;  // fail closed on a value no rule can hold
}

}  // namespace moat::policy
