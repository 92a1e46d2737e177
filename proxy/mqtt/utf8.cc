#include "proxy/mqtt/utf8.h"

#include <cstdint>

namespace moat::mqtt {
namespace {

bool IsRefusedCodePoint(uint32_t cp) {
  if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F)) return true;  // C0, DEL, C1 (incl. U+0000)
  if (cp >= 0xFDD0 && cp <= 0xFDEF) return true;              // non-characters
  return (cp & 0xFFFE) == 0xFFFE;                             // U+xFFFE, U+xFFFF
}

}  // namespace

bool IsValidMqttUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t lead = s[i];
    if (lead < 0x80) {
      if (IsRefusedCodePoint(lead)) return false;
      ++i;
      continue;
    }
    size_t length;
    uint32_t cp;
    uint32_t min_cp;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, cp = lead & 0x1F, min_cp = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, cp = lead & 0x0F, min_cp = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, cp = lead & 0x07, min_cp = 0x10000;
    } else {
      return false;  // a continuation byte where a sequence should start, or F8..FF
    }
    if (n - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const uint8_t next = s[i + k];
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    if (cp < min_cp) return false;                   // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogates
    if (cp > 0x10FFFF) return false;
    if (IsRefusedCodePoint(cp)) return false;
    i += length;
  }
  return true;
}

}  // namespace moat::mqtt
