// Arbitrary bytes into a streaming Decoder: nothing may crash, leak or hang, and every
// frame it returns must decode to the same Packet when handed to DecodeOne() alone, so
// the streaming path and the one-shot path used by tests cannot drift apart.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_stream.h"
#include "proxy/mqtt/decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moat;
  fuzz::DecodeStream(data, size,
                     [](const mqtt::Frame& frame, const fuzz::StreamConfig& config,
                        mqtt::ProtocolVersion version_before, const mqtt::Decoder&) {
                       const mqtt::DecodeResult again =
                           mqtt::DecodeOne(frame.raw, config.direction, version_before);
                       const auto* frame_again = std::get_if<mqtt::Frame>(&again);
                       fuzz::Check(frame_again != nullptr,
                                   "DecodeOne refuses a frame the Decoder accepted", {frame.raw});
                       fuzz::Check(frame_again->raw.size() == frame.raw.size(),
                                   "DecodeOne frames a different length", {frame.raw});
                       fuzz::Check(frame_again->packet == frame.packet,
                                   "DecodeOne yields a different Packet", {frame.raw});
                     });
  return 0;
}
