#include "proxy/mqtt/byte_reader.h"

#include "proxy/mqtt/utf8.h"

namespace moat::mqtt {

VarInt ParseVarInt(std::span<const uint8_t> data) {
  VarInt result;
  uint32_t multiplier = 1;
  for (size_t i = 0; i < data.size(); ++i) {
    if (i == 4) {
      result.status = VarIntStatus::kTooLong;
      return result;
    }
    const uint8_t byte = data[i];
    result.value += (byte & 0x7F) * multiplier;
    multiplier <<= 7;
    if ((byte & 0x80) == 0) {
      result.status = VarIntStatus::kOk;
      result.size = static_cast<uint8_t>(i + 1);
      // A last byte of zero after the first only pads the encoding [MQTT-1.5.5-1].
      result.minimal = (i == 0 || byte != 0);
      return result;
    }
  }
  // A fifth byte would be an error whether or not it has arrived yet.
  if (data.size() >= 4) result.status = VarIntStatus::kTooLong;
  return result;
}

bool ByteReader::ReadU8(uint8_t& out) {
  if (remaining() < 1) return false;
  out = data_[pos_++];
  return true;
}

bool ByteReader::ReadU16(uint16_t& out) {
  if (remaining() < 2) return false;
  out = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
  pos_ += 2;
  return true;
}

bool ByteReader::ReadU32(uint32_t& out) {
  if (remaining() < 4) return false;
  out = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
        (uint32_t{data_[pos_ + 2]} << 8) | uint32_t{data_[pos_ + 3]};
  pos_ += 4;
  return true;
}

DecodeError ByteReader::ReadVarInt(uint32_t& out, bool require_minimal) {
  const VarInt parsed = ParseVarInt(data_.subspan(pos_));
  switch (parsed.status) {
    case VarIntStatus::kIncomplete:
      return DecodeError::kTruncated;
    case VarIntStatus::kTooLong:
      return DecodeError::kRemainingLengthTooLong;
    case VarIntStatus::kOk:
      break;
  }
  if (require_minimal && !parsed.minimal) return DecodeError::kNonMinimalVarInt;
  out = parsed.value;
  pos_ += parsed.size;
  return DecodeError::kNone;
}

bool ByteReader::ReadBytes(size_t size, std::string_view& out) {
  if (remaining() < size) return false;
  out = std::string_view(reinterpret_cast<const char*>(data_.data() + pos_), size);
  pos_ += size;
  return true;
}

bool ByteReader::ReadBinary(std::string_view& out) {
  const size_t start = pos_;
  uint16_t size = 0;
  if (!ReadU16(size) || !ReadBytes(size, out)) {
    pos_ = start;
    return false;
  }
  return true;
}

DecodeError ByteReader::ReadUtf8(std::string_view& out) {
  std::string_view text;
  if (!ReadBinary(text)) return DecodeError::kTruncated;
  if (!IsValidMqttUtf8(text)) return DecodeError::kInvalidUtf8;
  out = text;
  return DecodeError::kNone;
}

std::string_view ByteReader::ReadRest() {
  std::string_view rest;
  ReadBytes(remaining(), rest);
  return rest;
}

}  // namespace moat::mqtt
