#include "proxy/config/websocket_origin.h"

#include <charconv>
#include <cstdint>

#include "absl/strings/ascii.h"

namespace moat::config {
namespace {

// RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
bool IsScheme(std::string_view scheme) {
  if (scheme.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(scheme[0]))) return false;
  for (char c : scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// A registered name (browsers send IDNs as punycode) or an IPv4 address.
bool IsHostName(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

// "[...]" holding an IPv6 address.
bool IsBracketedAddress(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  for (char c : host.substr(1, host.size() - 2)) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  absl::AsciiStrToLower(&lower);
  return lower;
}

std::string_view DefaultPort(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return "80";
  if (scheme == "https" || scheme == "wss") return "443";
  return "";
}

}  // namespace

std::optional<std::string> NormalizeOrigin(std::string_view origin) {
  const size_t separator = origin.find("://");
  if (separator == std::string_view::npos) return std::nullopt;
  const std::string scheme = Lower(origin.substr(0, separator));
  if (!IsScheme(scheme)) return std::nullopt;
  const std::string_view authority = origin.substr(separator + 3);
  // The host ends at the port's colon, which for an IPv6 address follows the ']'.
  const size_t host_end =
      authority.starts_with('[') ? authority.find(']') + 1 : authority.find(':');
  const std::string_view host = authority.substr(0, host_end);
  if (!IsHostName(host) && !IsBracketedAddress(host)) return std::nullopt;
  std::string normalized = scheme + "://" + Lower(host);
  if (host_end >= authority.size()) return normalized;
  if (authority[host_end] != ':') return std::nullopt;
  // One to five digits, nothing else (no sign, no space), 1 to 65535.
  const std::string_view digits = authority.substr(host_end + 1);
  uint32_t port = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || digits.size() > 5 || error != std::errc() ||
      end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  const std::string port_text = std::to_string(port);
  if (port_text != DefaultPort(scheme)) normalized += ":" + port_text;
  return normalized;
}

}  // namespace moat::config
