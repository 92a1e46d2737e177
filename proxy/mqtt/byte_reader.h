// Bounds-checked reading of MQTT's primitive data types (spec 1.5). Every read either
// succeeds and advances or fails and leaves the reader where it was, so a decoder can
// never read past the Remaining Length of its packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "proxy/mqtt/decode_error.h"

namespace moat::mqtt {

// Outcome of reading a Variable Byte Integer from a possibly incomplete buffer.
enum class VarIntStatus : uint8_t { kOk, kIncomplete, kTooLong };

struct VarInt {
  VarIntStatus status = VarIntStatus::kIncomplete;
  uint32_t value = 0;
  uint8_t size = 0;     // bytes used
  bool minimal = true;  // false if a shorter encoding of `value` exists
};

// Reads a Variable Byte Integer (spec 1.5.5) from the start of `data`.
VarInt ParseVarInt(std::span<const uint8_t> data);

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }

  bool ReadU8(uint8_t& out);
  bool ReadU16(uint16_t& out);
  bool ReadU32(uint32_t& out);
  // Fails with kTruncated, kRemainingLengthTooLong or kNonMinimalVarInt (the latter only
  // when `require_minimal`, as MQTT 5 demands).
  DecodeError ReadVarInt(uint32_t& out, bool require_minimal);
  // Exactly `size` bytes, as a view.
  bool ReadBytes(size_t size, std::string_view& out);
  // Two-byte length prefixed binary data (spec 1.5.6).
  bool ReadBinary(std::string_view& out);
  // Two-byte length prefixed UTF-8 string, validated (spec 1.5.4).
  DecodeError ReadUtf8(std::string_view& out);
  // Everything that is left.
  std::string_view ReadRest();

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace moat::mqtt
