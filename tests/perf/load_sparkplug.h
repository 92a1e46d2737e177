// mqtt_load --sparkplug: payloads that are valid Sparkplug B (as moat's `payload:
// sparkplug_b` rules require), built with the code protoc makes from moat's own
// policy/payload/sparkplug_b.proto, and still carrying the load generator's stamp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mqtt_load {

// Where the 16-byte stamp sits in a Sparkplug payload: inside its `body` bytes field,
// after that field's tag and length.
inline constexpr size_t kSparkplugStampAt = 2;

// A serialized Sparkplug B Payload of exactly `size` bytes (at least 64): the stamp's 16
// bytes (zero here, patched per message) as `body`, a timestamp, a seq, and metrics
// filling the rest, as an edge node's NDATA would.
std::vector<uint8_t> SparkplugPayload(size_t size);

}  // namespace mqtt_load
