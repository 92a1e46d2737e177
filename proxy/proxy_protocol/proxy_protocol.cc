#include "proxy/proxy_protocol/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "proxy/proxy_protocol/tlv.h"

namespace moat::proxy_protocol {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";

ParseResult NeedMore() { return ParseResult{}; }

ParseResult Error(std::string message) {
  ParseResult result;
  result.status = ParseStatus::kError;
  result.error = std::move(message);
  return result;
}

ParseResult Done(int version, size_t consumed, std::optional<ProxiedAddresses> addresses) {
  ParseResult result;
  result.status = ParseStatus::kDone;
  result.version = version;
  result.consumed = consumed;
  result.is_local = !addresses.has_value();
  result.addresses = std::move(addresses);
  return result;
}

// True when the first min(a.size(), b.size()) bytes agree: `bytes` may still grow into
// `expected` (or already starts with it).
bool PrefixMatches(std::span<const uint8_t> bytes, std::span<const uint8_t> expected) {
  const size_t n = std::min(bytes.size(), expected.size());
  return std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n),
                    expected.begin());
}

std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// ---- Version 1 (spec 2.1) --------------------------------------------------------------

// Decimal 0..65535 without leading zeroes, which the spec forbids to avoid any octal
// confusion.
std::optional<uint16_t> ParseV1Port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return {};
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return {};
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return {};
  return static_cast<uint16_t>(value);
}

// Exactly four decimal numbers 0..255 without leading zeroes, one dot apart (spec 2.1).
// Checked here rather than trusting inet_pton, whose leniency varies between libcs.
bool IsCanonicalIpv4(std::string_view text) {
  int parts = 0;
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view part =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return false;
    int value = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// The canonical text of an address of `family`, or nullopt if `text` is not one.
std::optional<std::string> CanonicalIp(int family, std::string_view text) {
  if (family == AF_INET && !IsCanonicalIpv4(text)) return {};
  // An IPv6 address is at most 45 characters (with an embedded IPv4 part); anything
  // longer cannot be valid and must not reach the fixed buffer.
  if (text.size() > INET6_ADDRSTRLEN - 1) return {};
  char zero_terminated[INET6_ADDRSTRLEN] = {};
  std::copy(text.begin(), text.end(), zero_terminated);
  std::array<uint8_t, 16> binary{};
  if (inet_pton(family, zero_terminated, binary.data()) != 1) return {};
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, binary.data(), out, sizeof(out)) == nullptr) return {};
  return std::string(out);
}

std::vector<std::string_view> SplitOnSpaces(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t space = line.find(' ', start);
    if (space == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, space - start));
    start = space + 1;
  }
}

// `line` is what follows "PROXY " up to, not including, the CRLF.
ParseResult ParseV1Line(std::string_view line, size_t consumed) {
  // "For UNKNOWN, the rest of the line before the CRLF may be omitted by the sender, and
  // the receiver must ignore anything presented before the CRLF is found."
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return Done(1, consumed, std::nullopt);

  const std::vector<std::string_view> fields = SplitOnSpaces(line);
  int family = 0;
  if (fields[0] == "TCP4") {
    family = AF_INET;
  } else if (fields[0] == "TCP6") {
    family = AF_INET6;
  } else {
    return Error("PROXY v1: unknown protocol '" + std::string(fields[0]) +
                 "' (expected TCP4, TCP6 or UNKNOWN)");
  }
  // Exactly one space between fields: an empty field means two spaces in a row.
  if (fields.size() != 5 ||
      std::ranges::any_of(fields, [](std::string_view f) { return f.empty(); })) {
    return Error(
        "PROXY v1: expected '<protocol> <source> <destination> <source port> "
        "<destination port>' separated by single spaces");
  }
  const char* family_name = family == AF_INET ? "IPv4" : "IPv6";
  std::optional<std::string> source_ip = CanonicalIp(family, fields[1]);
  if (!source_ip) {
    return Error(std::string("PROXY v1: source address is not a valid ") + family_name +
                 " address");
  }
  std::optional<std::string> destination_ip = CanonicalIp(family, fields[2]);
  if (!destination_ip) {
    return Error(std::string("PROXY v1: destination address is not a valid ") + family_name +
                 " address");
  }
  const std::optional<uint16_t> source_port = ParseV1Port(fields[3]);
  if (!source_port) return Error("PROXY v1: source port is not a decimal number 0..65535");
  const std::optional<uint16_t> destination_port = ParseV1Port(fields[4]);
  if (!destination_port) {
    return Error("PROXY v1: destination port is not a decimal number 0..65535");
  }
  return Done(1, consumed,
              ProxiedAddresses{{std::move(*source_ip), *source_port},
                               {std::move(*destination_ip), *destination_port}});
}

ParseResult ParseV1(std::span<const uint8_t> bytes) {
  if (!PrefixMatches(bytes, AsBytes(kV1Prefix)))
    return Error("PROXY v1: header must start with 'PROXY '");
  // Look for the CRLF within the first 107 bytes. Until it arrives, refuse early what
  // can never become a valid line: the line is printable US-ASCII, and a lone CR or LF
  // must not end it (spec 2.1).
  const size_t limit = std::min(bytes.size(), kMaxV1HeaderSize);
  for (size_t i = kV1Prefix.size(); i < limit; ++i) {
    const uint8_t c = bytes[i];
    if (c == '\r') {
      if (i + 2 > kMaxV1HeaderSize) break;  // the LF would be byte 108
      if (i + 1 == bytes.size()) return NeedMore();
      if (bytes[i + 1] != '\n') return Error("PROXY v1: CR not followed by LF");
      const std::string_view line(reinterpret_cast<const char*>(bytes.data()) + kV1Prefix.size(),
                                  i - kV1Prefix.size());
      return ParseV1Line(line, i + 2);
    }
    if (c == '\n') return Error("PROXY v1: line ends with LF instead of CRLF");
    if (c < 0x20 || c > 0x7E) return Error("PROXY v1: non-printable byte in header");
  }
  if (bytes.size() < kMaxV1HeaderSize) return NeedMore();
  return Error("PROXY v1: no CRLF within the first 107 bytes");
}

// ---- Version 2 (spec 2.2) --------------------------------------------------------------

enum V2Command : uint8_t { kLocal = 0x0, kProxy = 0x1 };
enum V2Family : uint8_t { kUnspec = 0x0, kInet = 0x1, kInet6 = 0x2, kUnix = 0x3 };
enum V2Transport : uint8_t { kTransportUnspec = 0x0, kStream = 0x1, kDgram = 0x2 };

// CRC32c (Castagnoli, reflected polynomial 0x82F63B78) as RFC 4960 appendix B, which
// the PP2_TYPE_CRC32C TLV uses.
constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = MakeCrc32cTable();

uint32_t Crc32c(std::span<const uint8_t> bytes, size_t zeroed_offset) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < bytes.size(); ++i) {
    // The checksum is computed with its own 4 bytes set to zero (spec 2.2.3).
    const uint8_t b = (i >= zeroed_offset && i < zeroed_offset + 4) ? 0 : bytes[i];
    crc = kCrc32cTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

uint16_t ReadU16(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

// Checks that the TLVs in header[begin, end) tile the region exactly and that a CRC32c
// TLV, if present, matches: the spec leaves TLVs optional to interpret, but a truncated
// TLV means the header is not what the sender built. Appends each TLV to `tlvs`.
std::optional<std::string> CheckV2Tlvs(std::span<const uint8_t> header, size_t begin,
                                       std::vector<Tlv>& tlvs) {
  std::optional<size_t> crc_at;  // offset of the CRC32c value, if one was sent
  size_t at = begin;
  while (at < header.size()) {
    if (header.size() - at < 3) return "PROXY v2: truncated TLV header";
    const uint8_t type = header[at];
    const size_t length = ReadU16(header, at + 1);
    const size_t value = at + 3;
    if (header.size() - value < length) return "PROXY v2: TLV value runs past the header";
    if (type == kTypeCrc32c) {
      if (crc_at) return "PROXY v2: more than one CRC32c TLV";
      if (length != 4) return "PROXY v2: CRC32c TLV must hold 4 bytes";
      crc_at = value;
    }
    tlvs.push_back(
        {type, std::string(reinterpret_cast<const char*>(header.data()) + value, length)});
    at = value + length;
  }
  // "If the checksum is provided ... and supported by the receiver, the receiver MUST"
  // verify it and treat the connection as invalid on mismatch (spec 2.2.3).
  if (crc_at) {
    const size_t v = *crc_at;
    const uint32_t sent = static_cast<uint32_t>(header[v]) << 24 |
                          static_cast<uint32_t>(header[v + 1]) << 16 |
                          static_cast<uint32_t>(header[v + 2]) << 8 | header[v + 3];
    if (Crc32c(header, v) != sent) return "PROXY v2: CRC32c checksum mismatch";
  }
  return std::nullopt;
}

std::string IpText(int family, const uint8_t* binary) {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, binary, out, sizeof(out));
  return out;
}

ParseResult ParseV2(std::span<const uint8_t> bytes) {
  if (!PrefixMatches(bytes, kV2Signature)) return Error("PROXY v2: bad signature");
  // Validate each fixed-header byte as soon as it arrives.
  if (bytes.size() > 12) {
    const uint8_t version = bytes[12] >> 4;
    const uint8_t command = bytes[12] & 0x0F;
    if (version != 2) return Error("PROXY v2: unsupported version " + std::to_string(version));
    if (command != kLocal && command != kProxy) {
      return Error("PROXY v2: unknown command " + std::to_string(command));
    }
  }
  if (bytes.size() > 13) {
    const uint8_t family = bytes[13] >> 4;
    const uint8_t transport = bytes[13] & 0x0F;
    // "other values ... must be rejected as invalid by receivers"
    if (family > kUnix) return Error("PROXY v2: unknown address family " + std::to_string(family));
    if (transport > kDgram) {
      return Error("PROXY v2: unknown transport protocol " + std::to_string(transport));
    }
  }
  if (bytes.size() < kV2FixedHeaderSize) return NeedMore();
  const size_t length = ReadU16(bytes, 14);
  if (length > kMaxV2PayloadSize) {
    return Error("PROXY v2: header announces " + std::to_string(length) +
                 " bytes of addresses and TLVs; moat accepts at most " +
                 std::to_string(kMaxV2PayloadSize));
  }
  const size_t total = kV2FixedHeaderSize + length;
  if (bytes.size() < total) return NeedMore();

  // LOCAL: "the receiver must use the real connection endpoints and discard the protocol
  // block including the family which is ignored".
  if ((bytes[12] & 0x0F) == kLocal) return Done(2, total, std::nullopt);

  const uint8_t family = bytes[13] >> 4;
  const uint8_t transport = bytes[13] & 0x0F;
  size_t address_size = 0;
  switch (family) {
    case kInet:
      address_size = 12;
      break;
    case kInet6:
      address_size = 36;
      break;
    case kUnix:
      address_size = 216;
      break;
    default:
      break;
  }
  if (length < address_size) {
    return Error("PROXY v2: length " + std::to_string(length) + " is too short for the " +
                 std::to_string(address_size) + "-byte address block");
  }
  const std::span<const uint8_t> header = bytes.first(total);
  std::vector<Tlv> tlvs;
  if (std::optional<std::string> problem =
          CheckV2Tlvs(header, kV2FixedHeaderSize + address_size, tlvs)) {
    return Error(std::move(*problem));
  }
  // Only TCP over IPv4/IPv6 carries an address moat can use; for the other valid
  // combinations the spec asks receivers that do not support them to fall back to UNSPEC,
  // that is, the connection's real endpoints.
  if (transport != kStream || (family != kInet && family != kInet6)) {
    ParseResult unspecified = Done(2, total, std::nullopt);
    unspecified.tlvs = std::move(tlvs);
    return unspecified;
  }
  const uint8_t* block = header.data() + kV2FixedHeaderSize;
  const int af = family == kInet ? AF_INET : AF_INET6;
  const size_t ip_size = family == kInet ? 4 : 16;
  ProxiedAddresses addresses;
  addresses.source.ip = IpText(af, block);
  addresses.destination.ip = IpText(af, block + ip_size);
  addresses.source.port = ReadU16(header, kV2FixedHeaderSize + 2 * ip_size);
  addresses.destination.port = ReadU16(header, kV2FixedHeaderSize + 2 * ip_size + 2);
  ParseResult done = Done(2, total, std::move(addresses));
  done.tlvs = std::move(tlvs);
  return done;
}

}  // namespace

ParseResult ParseProxyHeader(std::span<const uint8_t> bytes, ProxyProtocolVersionAllowed allowed) {
  if (bytes.empty()) return NeedMore();
  // The two versions differ in their first byte ('P' against CR), so one byte decides.
  const bool looks_v1 = bytes[0] == kV1Prefix[0];
  const bool looks_v2 = bytes[0] == kV2Signature[0];
  switch (allowed) {
    case ProxyProtocolVersionAllowed::kV1:
      if (looks_v2) return Error("PROXY v2 header on a listener that accepts only v1");
      return ParseV1(bytes);
    case ProxyProtocolVersionAllowed::kV2:
      if (looks_v1) return Error("PROXY v1 header on a listener that accepts only v2");
      return ParseV2(bytes);
    case ProxyProtocolVersionAllowed::kAny:
      if (looks_v2) return ParseV2(bytes);
      if (looks_v1) return ParseV1(bytes);
      return Error("no PROXY protocol header (expected 'PROXY ' or the v2 signature)");
  }
  return Error("invalid ProxyProtocolVersionAllowed");
}

}  // namespace moat::proxy_protocol
