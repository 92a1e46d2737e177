#include "proxy/config/endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "policy/file_reading/file_text.h"

namespace moat::config {
namespace {

bool IsIp(int family, absl::string_view text) {
  const std::string zero_terminated(text);
  unsigned char binary[sizeof(in6_addr)];
  return inet_pton(family, zero_terminated.c_str(), binary) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
bool IsHostName(absl::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(text, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  return true;
}

bool AllDigitsAndDots(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

// Part of the address, as the config file's text is shown everywhere (no control
// characters, at most 60 bytes).
std::string Quote(absl::string_view text) {
  return file_reading::Quote(std::string_view(text.data(), text.size()));
}

}  // namespace

std::string Endpoint::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view input) {
  // Debian's Abseil has its own string_view type, not an alias of std::string_view.
  const absl::string_view text(input.data(), input.size());
  if (text.empty()) return Invalid("empty address (expected host:port)");
  absl::string_view host;
  absl::string_view port_text;
  bool bracketed = false;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return Invalid("'[' without a closing ']'");
    host = text.substr(1, close - 1);
    const absl::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Invalid("missing port after ']' (expected [ipv6]:port)");
    }
    port_text = rest.substr(1);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return Invalid("missing port (expected host:port)");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return Invalid("IPv6 addresses must be in brackets, e.g. [::1]:8883");
    }
  }

  if (host.empty()) {
    return Invalid("missing host (use 0.0.0.0 or [::] to listen on every address)");
  }
  if (bracketed) {
    if (!IsIp(AF_INET6, host)) return Invalid(absl::StrCat(Quote(host), " is not an IPv6 address"));
  } else if (AllDigitsAndDots(host)) {
    // Looks numeric: must be a dotted quad, not a host name like "1.2.3".
    if (!IsIp(AF_INET, host)) return Invalid(absl::StrCat(Quote(host), " is not an IPv4 address"));
  } else if (!IsHostName(host)) {
    return Invalid(absl::StrCat(Quote(host), " is not a valid host name or IP address"));
  }

  uint32_t port = 0;
  const bool digits_only = !port_text.empty() && port_text.size() <= 5 &&
                           std::all_of(port_text.begin(), port_text.end(), [](char c) {
                             return absl::ascii_isdigit(static_cast<unsigned char>(c));
                           });
  if (!digits_only || !absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
    return Invalid(absl::StrCat("port ", Quote(port_text), " is not a number between 1 and 65535"));
  }
  Endpoint endpoint;
  endpoint.host = absl::AsciiStrToLower(host);
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

}  // namespace moat::config
