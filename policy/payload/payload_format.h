// What a native rule's `payload:` key asks of a PUBLISH payload: a pure check, bytes in,
// valid or not. Only this header is seen by the policy engine and the data path; the
// decoders (protobuf for Sparkplug B) stay in their own files, so what includes this
// builds without them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace moat::policy {

// kAny: no check (every rule without `payload:`). New formats are added at the end; a
// rule names one by its name below.
enum class PayloadFormat : uint8_t {
  kAny = 0,
  kSparkplugB = 1,  // "sparkplug_b": IsSparkplugPayload()
};

// The `payload:` value for `format` ("sparkplug_b"); "any" for kAny.
std::string_view PayloadFormatName(PayloadFormat format);
// The format a `payload:` value names; nullopt for a name moat does not know.
std::optional<PayloadFormat> ParsePayloadFormat(std::string_view name);
// Every name ParsePayloadFormat() accepts, for error messages.
std::string_view PayloadFormatNames();

// True when `payload` is one `format` allows (always, for kAny).
bool PayloadMatches(PayloadFormat format, std::string_view payload);

// A Sparkplug B 3.0 payload, as moat judges it (README, "Sparkplug B"):
//  - it decodes as the spec's `Payload` message (policy/payload/sparkplug_b.proto), and
//    nothing in it is a field the spec does not define (its extension ranges included:
//    no Sparkplug 3.0 payload uses them, and random bytes often decode as nothing but
//    unknown fields);
//  - it carries the payload `timestamp` the spec requires of every Sparkplug payload;
//  - its `seq`, when present, is 0 to 255 (the spec's sequence number range).
// An empty payload is refused (no timestamp), as is anything that is not protobuf.
bool IsSparkplugPayload(std::string_view payload);

}  // namespace moat::policy
