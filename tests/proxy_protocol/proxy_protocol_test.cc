// PROXY protocol header parsing (HAProxy doc/proxy-protocol.txt). Every header is also
// fed one byte at a time: each proper prefix must answer kNeedMore or the same error, and
// the first non-kNeedMore answer must equal the answer for the whole input.
#include "proxy/proxy_protocol/proxy_protocol.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moat::proxy_protocol {
namespace {

using Allowed = ProxyProtocolVersionAllowed;

std::vector<uint8_t> Text(std::string_view text) { return {text.begin(), text.end()}; }

// "0D 0A ..." -> bytes.
std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  std::string digits;
  for (char c : hex) {
    if (c != ' ') digits.push_back(c);
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

constexpr std::string_view kSignature = "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A";

std::vector<uint8_t> V2(std::string_view rest) {
  return Hex(std::string(kSignature) + " " + std::string(rest));
}

// Parses `bytes` whole and byte by byte, checks both agree, returns the whole answer.
ParseResult Parse(const std::vector<uint8_t>& bytes, Allowed allowed = Allowed::kAny) {
  const ParseResult whole = ParseProxyHeader(bytes, allowed);
  for (size_t n = 1; n <= bytes.size(); ++n) {
    const ParseResult part = ParseProxyHeader(std::span(bytes).first(n), allowed);
    if (part.status == ParseStatus::kNeedMore) continue;
    EXPECT_EQ(part.status, whole.status) << "prefix " << n;
    EXPECT_EQ(part.consumed, whole.consumed) << "prefix " << n;
    EXPECT_EQ(part.error, whole.error) << "prefix " << n;
    EXPECT_EQ(part.addresses, whole.addresses) << "prefix " << n;
    if (part.status == ParseStatus::kDone) {
      EXPECT_EQ(n, whole.consumed) << "done before the whole header arrived";
    }
    break;
  }
  return whole;
}

void ExpectAddresses(const ParseResult& r, std::string_view source_ip, uint16_t source_port,
                     std::string_view destination_ip, uint16_t destination_port) {
  ASSERT_EQ(r.status, ParseStatus::kDone) << r.error;
  ASSERT_TRUE(r.addresses.has_value());
  EXPECT_FALSE(r.is_local);
  EXPECT_EQ(r.addresses->source.ip, source_ip);
  EXPECT_EQ(r.addresses->source.port, source_port);
  EXPECT_EQ(r.addresses->destination.ip, destination_ip);
  EXPECT_EQ(r.addresses->destination.port, destination_port);
}

void ExpectLocal(const ParseResult& r, size_t consumed) {
  ASSERT_EQ(r.status, ParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, consumed);
  EXPECT_TRUE(r.is_local);
  EXPECT_FALSE(r.addresses.has_value());
}

void ExpectError(const ParseResult& r, std::string_view message_part) {
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_NE(r.error.find(message_part), std::string::npos) << r.error;
  EXPECT_EQ(r.consumed, 0u);
}

// ---- v1: valid --------------------------------------------------------------------------

TEST(ProxyV1, AcceptsTcp4) {
  const auto bytes = Text("PROXY TCP4 192.0.2.1 198.51.100.7 51000 1883\r\n");
  const ParseResult r = Parse(bytes, Allowed::kV1);
  ExpectAddresses(r, "192.0.2.1", 51000, "198.51.100.7", 1883);
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(r.version, 1);
}

TEST(ProxyV1, AcceptsTcp6AndCanonicalizesAddresses) {
  const ParseResult r = Parse(Text("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 65535 0\r\n"));
  ExpectAddresses(r, "2001:db8::1", 65535, "::1", 0);
}

TEST(ProxyV1, AcceptsTcp6WithMappedIpv4AsHaproxyWritesIt) {
  // HAProxy formats addresses with inet_ntop, which writes v4-mapped ones this way.
  const ParseResult r = Parse(Text("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 1 2\r\n"));
  ExpectAddresses(r, "::ffff:192.0.2.1", 1, "::ffff:192.0.2.2", 2);
}

TEST(ProxyV1, AcceptsShortUnknownAsLocal) { ExpectLocal(Parse(Text("PROXY UNKNOWN\r\n")), 15); }

TEST(ProxyV1, IgnoresWhatFollowsUnknown) {
  // The longest line the spec allows: 107 bytes including CRLF.
  const std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string line = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(line.size(), kMaxV1HeaderSize);
  ExpectLocal(Parse(Text(line)), 107);
}

TEST(ProxyV1, LeavesTheMqttBytesAfterTheHeader) {
  const auto header = Text("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n");
  const ParseResult r = Parse(Concat(header, Hex("10 0C 00 04 4D 51 54 54")));
  ASSERT_EQ(r.status, ParseStatus::kDone);
  EXPECT_EQ(r.consumed, header.size());
}

// ---- v1: malformed ----------------------------------------------------------------------

TEST(ProxyV1, RejectsLoneLf) { ExpectError(Parse(Text("PROXY UNKNOWN\n")), "LF instead of CRLF"); }

TEST(ProxyV1, RejectsCrWithoutLf) {
  ExpectError(Parse(Text("PROXY UNKNOWN\rX")), "CR not followed by LF");
}

TEST(ProxyV1, RejectsLineWithoutCrlfWithin107Bytes) {
  ExpectError(Parse(Text("PROXY UNKNOWN " + std::string(93, 'a'))), "no CRLF within");
  // A CRLF that would end the line at byte 108 comes too late.
  ExpectError(Parse(Text("PROXY UNKNOWN " + std::string(92, 'a') + "\r\n")), "no CRLF within");
}

TEST(ProxyV1, RejectsWrongPrefix) {
  ExpectError(Parse(Text("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"), Allowed::kV1),
              "must start with 'PROXY '");
  ExpectError(Parse(Text("PROXY\tTCP4\r\n")), "must start with 'PROXY '");
  ExpectError(Parse(Text("PROXYTCP4\r\n")), "must start with 'PROXY '");
}

TEST(ProxyV1, RejectsUnknownProtocol) {
  ExpectError(Parse(Text("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n")), "unknown protocol 'UDP4'");
  ExpectError(Parse(Text("PROXY UNKNOWNX\r\n")), "unknown protocol 'UNKNOWNX'");
  ExpectError(Parse(Text("PROXY \r\n")), "unknown protocol ''");
}

TEST(ProxyV1, RejectsAnythingButSingleSpaces) {
  ExpectError(Parse(Text("PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n")), "single spaces");
  ExpectError(Parse(Text("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n")), "single spaces");
  ExpectError(Parse(Text("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n")), "single spaces");
  ExpectError(Parse(Text("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n")), "single spaces");
  ExpectError(Parse(Text("PROXY TCP4\r\n")), "single spaces");
}

TEST(ProxyV1, RejectsMalformedIpv4) {
  for (const char* ip : {"01.2.3.4", "1.2.3.256", "1.2.3", "1.2.3.4.5", "1..3.4", "1.2.3.4.",
                         "a.b.c.d", "::1", "0x1.2.3.4", "1.2.3.-4"}) {
    ExpectError(Parse(Text(std::string("PROXY TCP4 ") + ip + " 1.2.3.4 1 2\r\n")),
                "source address is not a valid IPv4");
    ExpectError(Parse(Text(std::string("PROXY TCP4 1.2.3.4 ") + ip + " 1 2\r\n")),
                "destination address is not a valid IPv4");
  }
}

TEST(ProxyV1, RejectsMalformedIpv6) {
  for (const char* ip :
       {"1.2.3.4", "1:2:3:4:5:6:7:8:9", "::1::", "12345::", "fe80::1%eth0", "g::1", "[::1]"}) {
    ExpectError(Parse(Text(std::string("PROXY TCP6 ") + ip + " ::1 1 2\r\n")),
                "source address is not a valid IPv6");
  }
}

TEST(ProxyV1, RejectsMalformedPorts) {
  for (const char* port : {"65536", "99999", "080", "00", "+80", "-1", "8O", "123456"}) {
    ExpectError(Parse(Text(std::string("PROXY TCP4 1.2.3.4 1.2.3.4 ") + port + " 2\r\n")),
                "source port");
    ExpectError(Parse(Text(std::string("PROXY TCP4 1.2.3.4 1.2.3.4 1 ") + port + "\r\n")),
                "destination port");
  }
}

TEST(ProxyV1, RejectsNonPrintableBytes) {
  ExpectError(Parse(Concat(Text("PROXY UNKNOWN "), Hex("00 0D 0A"))), "non-printable");
  ExpectError(Parse(Concat(Text("PROXY TCP4 "), Hex("C3 A9 0D 0A"))), "non-printable");
}

// ---- v2: valid --------------------------------------------------------------------------

TEST(ProxyV2, AcceptsProxyTcpOverIpv4) {
  // 21: version 2, PROXY. 11: AF_INET, STREAM. 00 0C: 12 bytes. Then 192.0.2.1,
  // 198.51.100.7, ports 51000 and 1883.
  const auto bytes = V2("21 11 00 0C  C0 00 02 01  C6 33 64 07  C7 38  07 5B");
  const ParseResult r = Parse(bytes, Allowed::kV2);
  ExpectAddresses(r, "192.0.2.1", 51000, "198.51.100.7", 1883);
  EXPECT_EQ(r.consumed, 28u);
  EXPECT_EQ(r.version, 2);
}

TEST(ProxyV2, AcceptsProxyTcpOverIpv6) {
  // 21: AF_INET6, STREAM. 00 24: 36 bytes. 2001:db8::1 -> ::1, ports 1 and 8883.
  const ParseResult r =
      Parse(V2("21 21 00 24  20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01"
               "  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01  00 01  22 B3"));
  ExpectAddresses(r, "2001:db8::1", 1, "::1", 8883);
  EXPECT_EQ(r.consumed, 52u);
}

TEST(ProxyV2, AcceptsLocalAndUsesTheRealEndpoints) {
  // 20: version 2, LOCAL. 00: UNSPEC. No address block.
  ExpectLocal(Parse(V2("20 00 00 00")), 16);
}

TEST(ProxyV2, LocalSkipsWhateverBlockItAnnounces) {
  // "Receivers MUST always consider this field to skip the appropriate number of bytes
  // and must not assume zero is presented for LOCAL connections."
  ExpectLocal(Parse(V2("20 11 00 05  01 02 03 04 05")), 21);
}

TEST(ProxyV2, SkipsTlvsAfterTheAddresses) {
  // 00 16: 12 address bytes + ALPN TLV (01 00 04 "mqtt") + NOOP TLV (04 00 00).
  const ParseResult r =
      Parse(V2("21 11 00 16  0A 00 00 01  0A 00 00 02  00 01  00 02  01 00 04 6D 71 74 74"
               "  04 00 00"));
  ExpectAddresses(r, "10.0.0.1", 1, "10.0.0.2", 2);
  EXPECT_EQ(r.consumed, 38u);
}

TEST(ProxyV2, AcceptsMatchingCrc32c) {
  const ParseResult r =
      Parse(V2("21 11 00 13  C0 00 02 01  C6 33 64 07  C7 38  07 5B  03 00 04 7F 50 15 6F"));
  ExpectAddresses(r, "192.0.2.1", 51000, "198.51.100.7", 1883);
}

TEST(ProxyV2, FallsBackToRealEndpointsForFamiliesWithoutTcpAddress) {
  ExpectLocal(Parse(V2("21 00 00 00")), 16);                                         // UNSPEC
  ExpectLocal(Parse(V2("21 12 00 0C 01 02 03 04 05 06 07 08 00 01 00 02")), 28);     // UDP4
  ExpectLocal(Parse(Concat(V2("21 31 00 D8"), std::vector<uint8_t>(216, 0))), 232);  // UNIX
}

TEST(ProxyV2, LeavesTheMqttBytesAfterTheHeader) {
  const ParseResult r = Parse(Concat(V2("20 00 00 00"), Hex("10 0C 00 04")));
  ExpectLocal(r, 16);
}

TEST(ProxyV2, AcceptsLengthAtTheCap) {
  std::vector<uint8_t> bytes = V2("21 11 08 00  0A 00 00 01  0A 00 00 02  00 01  00 02");
  // One NOOP TLV filling the rest of the 2048 bytes: 2048 - 12 - 3 = 2033 = 0x07F1.
  bytes = Concat(bytes, Hex("04 07 F1"));
  bytes.resize(kV2FixedHeaderSize + kMaxV2PayloadSize, 0);
  ExpectAddresses(Parse(bytes), "10.0.0.1", 1, "10.0.0.2", 2);
}

// ---- v2: malformed ----------------------------------------------------------------------

TEST(ProxyV2, RejectsBadSignatureAtTheFirstWrongByte) {
  const auto bytes = Hex("0D 0A 0D 0A 00 0D 0A 51 55 49 54 0B 21 11 00 00");
  ExpectError(Parse(bytes, Allowed::kV2), "bad signature");
  EXPECT_EQ(ParseProxyHeader(std::span(bytes).first(12), Allowed::kV2).status, ParseStatus::kError);
}

TEST(ProxyV2, RejectsOtherVersions) {
  ExpectError(Parse(V2("11 11 00 00")), "unsupported version 1");
  ExpectError(Parse(V2("31 11 00 00")), "unsupported version 3");
}

TEST(ProxyV2, RejectsUnassignedCommand) {
  ExpectError(Parse(V2("22 11 00 00")), "unknown command 2");
}

TEST(ProxyV2, RejectsUnassignedFamilyAndTransport) {
  ExpectError(Parse(V2("21 41 00 00")), "unknown address family 4");
  ExpectError(Parse(V2("21 13 00 00")), "unknown transport protocol 3");
  // Even with LOCAL: the byte itself is invalid, whatever the command.
  ExpectError(Parse(V2("20 F0 00 00")), "unknown address family 15");
}

TEST(ProxyV2, RejectsLengthAboveTheCapBeforeBuffering) {
  // Refused from the 16 header bytes alone, without waiting for 2049 more.
  ExpectError(Parse(V2("21 11 08 01")), "at most 2048");
  ExpectError(Parse(V2("21 11 FF FF")), "at most 2048");
}

TEST(ProxyV2, RejectsLengthShorterThanTheAddresses) {
  ExpectError(Parse(V2("21 11 00 0B  01 02 03 04 05 06 07 08 09 0A 0B")), "too short");
  ExpectError(Parse(Concat(V2("21 21 00 23"), std::vector<uint8_t>(35, 0))), "too short");
  ExpectError(Parse(Concat(V2("21 31 00 D7"), std::vector<uint8_t>(215, 0))), "too short");
}

TEST(ProxyV2, RejectsTruncatedTlvs) {
  // 2 bytes after the addresses: less than a TLV header.
  ExpectError(Parse(V2("21 11 00 0E  0A 00 00 01 0A 00 00 02 00 01 00 02  04 00")),
              "truncated TLV header");
  // A TLV announcing 5 value bytes with 1 left.
  ExpectError(Parse(V2("21 11 00 10  0A 00 00 01 0A 00 00 02 00 01 00 02  04 00 05 00")),
              "runs past the header");
}

TEST(ProxyV2, RejectsWrongCrc32c) {
  ExpectError(
      Parse(V2("21 11 00 13  C0 00 02 01  C6 33 64 07  C7 38  07 5C  03 00 04 7F 50 15 6F")),
      "checksum mismatch");
  ExpectError(Parse(V2("21 11 00 12  C0 00 02 01  C6 33 64 07  C7 38  07 5B  03 00 03 7F 50 15")),
              "must hold 4 bytes");
  ExpectError(Parse(V2("21 11 00 1A  C0 00 02 01  C6 33 64 07  C7 38  07 5B  03 00 04 7F 50 15 6F"
                       "  03 00 04 7F 50 15 6F")),
              "more than one CRC32c");
}

// ---- Version selection and non-PROXY input ----------------------------------------------

TEST(ProxyHeader, NeedsMoreForEmptyInput) {
  EXPECT_EQ(ParseProxyHeader({}, Allowed::kAny).status, ParseStatus::kNeedMore);
}

TEST(ProxyHeader, RefusesMqttAtItsFirstByte) {
  // A client that skips the header and sends CONNECT straight away.
  const auto connect = Hex("10");
  ExpectError(ParseProxyHeader(connect, Allowed::kAny), "no PROXY protocol header");
  ExpectError(ParseProxyHeader(connect, Allowed::kV1), "must start with 'PROXY '");
  ExpectError(ParseProxyHeader(connect, Allowed::kV2), "bad signature");
}

TEST(ProxyHeader, ListenerRefusesTheVersionItDoesNotAccept) {
  ExpectError(Parse(V2("20 00 00 00"), Allowed::kV1), "accepts only v1");
  ExpectError(Parse(Text("PROXY UNKNOWN\r\n"), Allowed::kV2), "accepts only v2");
}

TEST(ProxyHeader, AnyAcceptsBothVersions) {
  EXPECT_EQ(Parse(V2("20 00 00 00"), Allowed::kAny).version, 2);
  EXPECT_EQ(Parse(Text("PROXY UNKNOWN\r\n"), Allowed::kAny).version, 1);
}

}  // namespace
}  // namespace moat::proxy_protocol
