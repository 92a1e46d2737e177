// Appends MQTT's primitive data types to a byte vector (spec 1.5).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace moat::mqtt {

// Bytes a Variable Byte Integer takes for `value` (at most kMaxRemainingLength).
int VarIntSize(uint32_t value);

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  void U8(uint8_t value) { out_.push_back(value); }
  void U16(uint16_t value);
  void U32(uint32_t value);
  void VarInt(uint32_t value);
  // Two-byte length prefix; the caller has checked size <= 65535.
  void Binary(std::string_view bytes);
  void Raw(std::string_view bytes);

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace moat::mqtt
