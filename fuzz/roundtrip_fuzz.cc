// Every packet the Decoder accepts must encode without error and decode back to an equal
// Packet. moat re-encodes what it alters (a SUBSCRIBE with filters removed, a CONNECT
// with other credentials), so a field the encoder drops or reorders would silently
// change what the broker sees.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_stream.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/encoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moat;
  std::vector<uint8_t> encoded;
  fuzz::DecodeStream(
      data, size,
      [&encoded](const mqtt::Frame& frame, const fuzz::StreamConfig& config,
                 mqtt::ProtocolVersion version_before, const mqtt::Decoder& decoder) {
        // A Connect encodes with its own version; everything else with the one the
        // decoder holds (learnt from that CONNECT, or told).
        encoded.clear();
        const mqtt::EncodeError error = mqtt::Encode(frame.packet, decoder.version(), encoded);
        fuzz::Check(error == mqtt::EncodeError::kNone, "Encode refuses a decoded Packet",
                    {frame.raw, encoded});
        const mqtt::DecodeResult again = mqtt::DecodeOne(encoded, config.direction, version_before);
        const auto* frame_again = std::get_if<mqtt::Frame>(&again);
        fuzz::Check(frame_again != nullptr, "DecodeOne refuses the re-encoded packet",
                    {frame.raw, encoded});
        fuzz::Check(frame_again->raw.size() == encoded.size(),
                    "re-encoded packet frames a different length", {frame.raw, encoded});
        fuzz::Check(frame_again->packet == frame.packet,
                    "re-encoded packet decodes to a different Packet", {frame.raw, encoded});
      });
  return 0;
}
