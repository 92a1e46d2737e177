#include "load_sparkplug.h"

#include <stdexcept>
#include <string>

#include "policy/payload/sparkplug_b.pb.h"

namespace mqtt_load {

using org::eclipse::tahu::protobuf::Payload;

std::vector<uint8_t> SparkplugPayload(size_t size) {
  if (size < 64) throw std::invalid_argument("a Sparkplug payload needs at least 64 bytes");
  // protobuf writes fields in number order, so `body` (field 5) is written by hand in
  // front: a parser merges what follows into the same message, as the encoding allows.
  const std::string body = std::string("\x2a\x10", 2) + std::string(16, '\0');
  const size_t rest = size - body.size();
  Payload payload;
  payload.set_timestamp(1'700'000'000'000);
  payload.set_seq(1);
  // Metrics as a gateway's NDATA carries them, while a whole one still fits.
  for (int i = 0;; ++i) {
    Payload next = payload;
    auto* metric = next.add_metrics();
    metric->set_name("Line" + std::to_string(i % 8) + "/Sensor" + std::to_string(i));
    metric->set_alias(static_cast<uint64_t>(i));
    metric->set_timestamp(1'700'000'000'000);
    metric->set_datatype(org::eclipse::tahu::protobuf::Double);
    metric->set_double_value(20.0 + i);
    if (next.ByteSizeLong() + 40 > rest) break;  // room left for the padding metric
    payload = std::move(next);
  }
  // The rest as one string metric, its length found by trying (varint lengths vary).
  for (size_t pad = rest - payload.ByteSizeLong(); pad > 0; --pad) {
    Payload padded = payload;
    auto* metric = padded.add_metrics();
    metric->set_datatype(org::eclipse::tahu::protobuf::String);
    metric->set_string_value(std::string(pad, 'x'));
    if (padded.ByteSizeLong() == rest) {
      payload = std::move(padded);
      break;
    }
  }
  const std::string bytes = body + payload.SerializeAsString();
  if (bytes.size() != size || static_cast<uint8_t>(bytes[0]) != 0x2A || bytes[1] != 16) {
    throw std::logic_error("the Sparkplug payload is not the size or shape asked for");
  }
  return {bytes.begin(), bytes.end()};
}

}  // namespace mqtt_load
