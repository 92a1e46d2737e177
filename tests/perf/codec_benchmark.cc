// Decoding cost of the packets on moat's hot path: every PUBLISH is decoded before its
// topic is checked, and CONNECT storms after a broker restart decode thousands of
// CONNECTs at once. The packets are assembled by hand so a codec bug cannot make the
// benchmark measure an error path; each run checks the decoder returned a Frame.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/types.h"

namespace moat::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;

void PutU16(Bytes& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

void PutU32(Bytes& out, uint32_t value) {
  PutU16(out, static_cast<uint16_t>(value >> 16));
  PutU16(out, static_cast<uint16_t>(value));
}

void PutVarInt(Bytes& out, size_t value) {
  do {
    uint8_t byte = value & 0x7F;
    value >>= 7;
    out.push_back(value != 0 ? (byte | 0x80) : byte);
  } while (value != 0);
}

void PutString(Bytes& out, std::string_view text) {
  PutU16(out, static_cast<uint16_t>(text.size()));
  out.insert(out.end(), text.begin(), text.end());
}

Bytes WithFixedHeader(uint8_t first_byte, const Bytes& body) {
  Bytes packet{first_byte};
  PutVarInt(packet, body.size());
  packet.insert(packet.end(), body.begin(), body.end());
  return packet;
}

Bytes WithPropertyLength(const Bytes& properties) {
  Bytes out;
  PutVarInt(out, properties.size());
  out.insert(out.end(), properties.begin(), properties.end());
  return out;
}

void Append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

// A QoS 1 PUBLISH as a typical telemetry client sends it; MQTT 5 adds the properties
// such clients commonly set.
Bytes MakePublish(ProtocolVersion version, size_t payload_size) {
  Bytes body;
  PutString(body, "factory/line-3/sensor-17/temperature");
  PutU16(body, 42);
  if (version == ProtocolVersion::kV5) {
    Bytes properties{0x01, 0x00};  // Payload Format Indicator: bytes
    properties.push_back(0x02);    // Message Expiry Interval
    PutU32(properties, 3600);
    properties.push_back(0x03);  // Content Type
    PutString(properties, "application/octet-stream");
    properties.push_back(0x26);  // User Property
    PutString(properties, "trace-id");
    PutString(properties, "4bf92f3577b34da6a3ce929d0e0e4736");
    Append(body, WithPropertyLength(properties));
  }
  body.resize(body.size() + payload_size, 0xA5);
  return WithFixedHeader(0x32, body);
}

Bytes MakeConnect(ProtocolVersion version) {
  Bytes body;
  PutString(body, "MQTT");
  body.push_back(static_cast<uint8_t>(version));
  body.push_back(0xC2);  // username, password, clean start
  PutU16(body, 60);
  if (version == ProtocolVersion::kV5) {
    Bytes properties{0x11};  // Session Expiry Interval
    PutU32(properties, 3600);
    properties.push_back(0x21);  // Receive Maximum
    PutU16(properties, 100);
    properties.push_back(0x27);  // Maximum Packet Size
    PutU32(properties, 1 << 20);
    properties.push_back(0x26);  // User Property
    PutString(properties, "fleet");
    PutString(properties, "eu-west");
    Append(body, WithPropertyLength(properties));
  }
  PutString(body, "sensor-17.line-3.factory");
  PutString(body, "sensor-17");
  PutString(body, "correct-horse-battery-staple");
  return WithFixedHeader(0x10, body);
}

void SetThroughput(benchmark::State& state, size_t packet_size) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(packet_size));
}

// The session's path: bytes fed into a long-lived client-side Decoder, one frame out.
void BM_DecodePublish(benchmark::State& state, ProtocolVersion version, size_t payload) {
  const Bytes connect = MakeConnect(version);
  const Bytes publish = MakePublish(version, payload);
  Decoder decoder({.direction = Direction::kClientToServer});
  decoder.Feed(connect);
  if (!std::holds_alternative<Frame>(decoder.Next())) {
    state.SkipWithError("CONNECT refused");
    return;
  }
  for (auto _ : state) {
    decoder.Feed(publish);
    DecodeResult result = decoder.Next();
    if (!std::holds_alternative<Frame>(result)) {
      state.SkipWithError("PUBLISH refused");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  SetThroughput(state, publish.size());
}

void BM_DecodeConnect(benchmark::State& state, ProtocolVersion version) {
  const Bytes connect = MakeConnect(version);
  for (auto _ : state) {
    DecodeResult result = DecodeOne(connect, Direction::kClientToServer, ProtocolVersion::kUnknown);
    if (!std::holds_alternative<Frame>(result)) {
      state.SkipWithError("CONNECT refused");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  SetThroughput(state, connect.size());
}

BENCHMARK_CAPTURE(BM_DecodePublish, v311_16B, ProtocolVersion::kV311, 16);
BENCHMARK_CAPTURE(BM_DecodePublish, v311_4KiB, ProtocolVersion::kV311, 4096);
BENCHMARK_CAPTURE(BM_DecodePublish, v5_16B, ProtocolVersion::kV5, 16);
BENCHMARK_CAPTURE(BM_DecodePublish, v5_4KiB, ProtocolVersion::kV5, 4096);
BENCHMARK_CAPTURE(BM_DecodeConnect, v311, ProtocolVersion::kV311);
BENCHMARK_CAPTURE(BM_DecodeConnect, v5, ProtocolVersion::kV5);

}  // namespace
}  // namespace moat::mqtt
