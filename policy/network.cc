#include "policy/network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace moat::policy {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

// Parses one bare address; `*v4` tells whether it was written as IPv4.
std::optional<std::array<uint8_t, 16>> ParseBare(std::string_view text, bool* v4) {
  // inet_pton needs a NUL-terminated string; no address is longer than 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buffer[64];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::array<uint8_t, 16> out{};
  in_addr a4;
  if (inet_pton(AF_INET, buffer, &a4) == 1) {
    std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), out.begin());
    std::memcpy(out.data() + 12, &a4, 4);
    *v4 = true;
    return out;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buffer, &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    *v4 = false;
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::array<uint8_t, 16>> ParseAddress(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  bool v4 = false;
  return ParseBare(text, &v4);
}

std::optional<Cidr> ParseCidr(std::string_view text, std::string* error) {
  const size_t slash = text.find('/');
  bool v4 = false;
  const std::optional<std::array<uint8_t, 16>> address = ParseBare(text.substr(0, slash), &v4);
  if (!address) {
    *error = "is not an IPv4 or IPv6 address or network";
    return std::nullopt;
  }
  const int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      *error = "has a prefix length that is not a number";
      return std::nullopt;
    }
    bits = 0;
    for (char c : digits) bits = bits * 10 + (c - '0');
    if (bits > max_bits) {
      *error = v4 ? "has a prefix length over 32" : "has a prefix length over 128";
      return std::nullopt;
    }
  }
  Cidr cidr;
  cidr.network = *address;
  cidr.prefix = bits + (v4 ? 96 : 0);
  for (int bit = cidr.prefix; bit < 128; ++bit) {
    if (cidr.network[bit / 8] & (0x80 >> (bit % 8))) {
      *error = "has bits set past its prefix length";
      return std::nullopt;
    }
  }
  return cidr;
}

std::string SourceKey(std::string_view address) {
  const std::optional<std::array<uint8_t, 16>> parsed = ParseAddress(address);
  if (!parsed) return std::string(address);
  char text[INET6_ADDRSTRLEN];
  if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), parsed->begin())) {
    inet_ntop(AF_INET, parsed->data() + 12, text, sizeof text);
    return text;
  }
  std::array<uint8_t, 16> network{};
  std::copy_n(parsed->begin(), 8, network.begin());
  inet_ntop(AF_INET6, network.data(), text, sizeof text);
  return std::string(text) + "/64";
}

bool CidrContains(const Cidr& cidr, const std::array<uint8_t, 16>& address) {
  const int whole = cidr.prefix / 8;
  if (std::memcmp(cidr.network.data(), address.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  const int rest = cidr.prefix % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (cidr.network[whole] & mask) == (address[whole] & mask);
}

}  // namespace moat::policy
