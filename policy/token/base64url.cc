#include "policy/token/base64url.h"

#include <cjose/base64.h>
#include <cjose/util.h>

namespace moat::policy {

bool IsBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return false;
  for (char c : text) {
    const bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!url_safe) return false;
  }
  return true;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  // Padding and the standard alphabet are not base64url; cjose would accept some of it.
  if (!IsBase64Url(text)) return std::nullopt;
  uint8_t* decoded = nullptr;
  size_t size = 0;
  cjose_err error;
  if (!cjose_base64url_decode(text.data(), text.size(), &decoded, &size, &error)) {
    return std::nullopt;
  }
  std::string bytes(reinterpret_cast<const char*>(decoded), size);
  cjose_get_dealloc()(decoded);
  return bytes;
}

std::string Base64UrlEncode(std::string_view bytes) {
  char* encoded = nullptr;
  size_t size = 0;
  cjose_err error;
  if (!cjose_base64url_encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                              &encoded, &size, &error)) {
    return {};
  }
  std::string text(encoded, size);
  cjose_get_dealloc()(encoded);
  return text;
}

}  // namespace moat::policy
