// base64url without padding (RFC 7515 section 2), as JWS and JWK use it; decoding by the
// JOSE library, so moat holds no codec of its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moat::policy {

// Only the URL-safe alphabet, no padding, and never a length that leaves one stray
// character (4n+1), which no byte string encodes to. Checked before any text reaches
// cjose: Debian 12's cjose 0.6.1 asserts, and so aborts the process, on some of those.
bool IsBase64Url(std::string_view text);

std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string Base64UrlEncode(std::string_view bytes);

}  // namespace moat::policy
