#include "proxy/mqtt/byte_writer.h"

namespace moat::mqtt {

int VarIntSize(uint32_t value) {
  if (value < 128) return 1;
  if (value < 16'384) return 2;
  if (value < 2'097'152) return 3;
  return 4;
}

void ByteWriter::U16(uint16_t value) {
  out_.push_back(static_cast<uint8_t>(value >> 8));
  out_.push_back(static_cast<uint8_t>(value));
}

void ByteWriter::U32(uint32_t value) {
  out_.push_back(static_cast<uint8_t>(value >> 24));
  out_.push_back(static_cast<uint8_t>(value >> 16));
  out_.push_back(static_cast<uint8_t>(value >> 8));
  out_.push_back(static_cast<uint8_t>(value));
}

void ByteWriter::VarInt(uint32_t value) {
  do {
    uint8_t byte = value & 0x7F;
    value >>= 7;
    if (value > 0) byte |= 0x80;
    out_.push_back(byte);
  } while (value > 0);
}

void ByteWriter::Binary(std::string_view bytes) {
  U16(static_cast<uint16_t>(bytes.size()));
  Raw(bytes);
}

void ByteWriter::Raw(std::string_view bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

}  // namespace moat::mqtt
