// base64url without padding (RFC 7515 section 2), as JWS and JWK use it; decoding by the
// JOSE library, so moat holds no codec of its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moat::policy {

std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string Base64UrlEncode(std::string_view bytes);

}  // namespace moat::policy
