// The PROXY header moat sends towards the broker: exact bytes for the simple cases (from
// the spec's layouts, section 2.1 and 2.2), and every header read back by moat's own
// parser to the fields that went in.
#include "proxy/proxy_protocol/header_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/proxy_protocol/tlv.h"

namespace moat::proxy_protocol {
namespace {

ProxiedAddresses Addresses(std::string source, uint16_t source_port, std::string destination,
                           uint16_t destination_port) {
  return {{std::move(source), source_port}, {std::move(destination), destination_port}};
}

ParseResult ReadBack(const std::vector<uint8_t>& bytes) {
  const ParseResult result = ParseProxyHeader(bytes, ProxyProtocolVersionAllowed::kAny);
  EXPECT_EQ(result.status, ParseStatus::kDone) << result.error;
  EXPECT_EQ(result.consumed, bytes.size());
  return result;
}

std::vector<uint8_t> Bytes(const std::string& text) { return {text.begin(), text.end()}; }

TEST(HeaderWriterV1, Tcp4Line) {
  EXPECT_EQ(WriteV1(Addresses("192.0.2.7", 51000, "198.51.100.1", 8883)),
            "PROXY TCP4 192.0.2.7 198.51.100.1 51000 8883\r\n");
}

TEST(HeaderWriterV1, Tcp6LineInCanonicalForm) {
  EXPECT_EQ(WriteV1(Addresses("2001:db8:0:0::7", 1, "2001:db8::1", 65535)),
            "PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n");
}

// A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; receivers log and limit
// them as the IPv4 addresses they are.
TEST(HeaderWriterV1, MappedIpv4IsTcp4) {
  EXPECT_EQ(WriteV1(Addresses("::ffff:192.0.2.7", 40000, "::ffff:127.0.0.1", 1883)),
            "PROXY TCP4 192.0.2.7 127.0.0.1 40000 1883\r\n");
}

TEST(HeaderWriterV1, MixedFamiliesAreTcp6WithTheIpv4AddressMapped) {
  EXPECT_EQ(WriteV1(Addresses("192.0.2.7", 40000, "2001:db8::1", 1883)),
            "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 40000 1883\r\n");
}

TEST(HeaderWriterV1, NoAddressesIsUnknown) {
  EXPECT_EQ(WriteV1(std::nullopt), "PROXY UNKNOWN\r\n");
}

TEST(HeaderWriterV1, RefusesWhatIsNoAddress) {
  EXPECT_EQ(WriteV1(Addresses("unknown", 1, "127.0.0.1", 2)), std::nullopt);
  EXPECT_EQ(WriteV1(Addresses("127.0.0.1", 1, "", 2)), std::nullopt);
}

TEST(HeaderWriterV1, ParserReadsEveryLineBack) {
  for (const ProxiedAddresses& addresses : {Addresses("192.0.2.7", 0, "198.51.100.1", 65535),
                                            Addresses("2001:db8::7", 51000, "2001:db8::1", 8883)}) {
    const std::optional<std::string> line = WriteV1(addresses);
    ASSERT_TRUE(line);
    const ParseResult result = ReadBack(Bytes(*line));
    EXPECT_EQ(result.version, 1);
    EXPECT_EQ(result.addresses, addresses);
  }
  const ParseResult unknown = ReadBack(Bytes(*WriteV1(std::nullopt)));
  EXPECT_TRUE(unknown.is_local);
}

TEST(HeaderWriterV2, Tcp4WithoutTlvsByteForByte) {
  HeaderFields fields;
  fields.addresses = Addresses("192.0.2.7", 0xC738, "198.51.100.1", 8883);
  const std::vector<uint8_t> expected = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                                         0x55, 0x49, 0x54, 0x0A,  // signature
                                         0x21,                    // v2, PROXY
                                         0x11,                    // TCP over IPv4
                                         0x00, 0x0C,              // 12 bytes
                                         192,  0,    2,    7,    198,  51,   100,  1,  // addresses
                                         0xC7, 0x38, 0x22, 0xB3};                      // ports
  EXPECT_EQ(WriteV2(fields), expected);
}

TEST(HeaderWriterV2, LocalByteForByte) {
  const std::vector<uint8_t> expected = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                                         0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00};
  HeaderFields fields;
  fields.user = "ignored";  // LOCAL says nothing about a client
  EXPECT_EQ(WriteV2(fields), expected);
  EXPECT_TRUE(ReadBack(expected).is_local);
}

TEST(HeaderWriterV2, SslTlvLayoutByteForByte) {
  HeaderFields fields;
  fields.addresses = Addresses("127.0.0.1", 1, "127.0.0.1", 2);
  fields.ssl = SslTlv{
      .client = kClientSsl, .verify = 0x01020304, .version = "TLSv1.3", .cn = "", .cipher = ""};
  const std::optional<std::vector<uint8_t>> header = WriteV2(fields);
  ASSERT_TRUE(header);
  const std::vector<uint8_t> tlv(header->begin() + 28, header->end());
  const std::vector<uint8_t> expected = {0x20, 0x00, 0x0F,                   // PP2_TYPE_SSL, 15
                                         0x01, 0x01, 0x02, 0x03, 0x04,       // client, verify
                                         0x21, 0x00, 0x07, 'T',  'L',  'S',  // VERSION, 7
                                         'v',  '1',  '.',  '3'};
  EXPECT_EQ(tlv, expected);
  EXPECT_EQ((*header)[14] << 8 | (*header)[15], 12 + 18);
}

TEST(HeaderWriterV2, ParserReadsEveryFieldBack) {
  HeaderFields fields;
  fields.addresses = Addresses("2001:db8::7", 51000, "2001:db8::1", 8883);
  fields.ssl = SslTlv{.client = kClientSsl | kClientCertConn | kClientCertSess,
                      .verify = 0,
                      .version = "TLSv1.3",
                      .cn = "dev-client",
                      .cipher = "TLS_AES_256_GCM_SHA384"};
  fields.user = "sensor-7";
  fields.client_id = "plant-a/line-3";
  const std::optional<std::vector<uint8_t>> header = WriteV2(fields);
  ASSERT_TRUE(header);
  const ParseResult result = ReadBack(*header);
  EXPECT_EQ(result.version, 2);
  EXPECT_EQ(result.addresses, fields.addresses);
  ASSERT_EQ(result.tlvs.size(), 3u);
  EXPECT_EQ(result.tlvs[0].type, kTypeSsl);
  EXPECT_EQ(DecodeSslTlv(result.tlvs[0].value), fields.ssl);
  EXPECT_EQ(FindTlv(result.tlvs, kTypeMoatUser), "sensor-7");
  EXPECT_EQ(FindTlv(result.tlvs, kTypeMoatClientId), "plant-a/line-3");
}

TEST(HeaderWriterV2, LeavesOutEmptyFields) {
  HeaderFields fields;
  fields.addresses = Addresses("127.0.0.2", 40000, "127.0.0.1", 8883);
  fields.client_id = "c";
  const ParseResult result = ReadBack(*WriteV2(fields));
  ASSERT_EQ(result.tlvs.size(), 1u);
  EXPECT_EQ(result.tlvs[0], (Tlv{kTypeMoatClientId, "c"}));
  EXPECT_EQ(FindTlv(result.tlvs, kTypeMoatUser), std::nullopt);
}

// Truncating a name would send the broker another client's identity: refuse instead.
TEST(HeaderWriterV2, RefusesFieldsPastTheLengthFields) {
  HeaderFields fields;
  fields.addresses = Addresses("127.0.0.2", 40000, "127.0.0.1", 8883);
  fields.user = std::string(0xFFFF, 'u');
  EXPECT_EQ(WriteV2(fields), std::nullopt);  // the TLV fits, the header does not
  fields.user = std::string(0x10000, 'u');
  EXPECT_EQ(WriteV2(fields), std::nullopt);
  fields.user = std::string(30000, 'u');
  fields.client_id = std::string(30000, 'c');
  EXPECT_TRUE(WriteV2(fields));
  fields.addresses->source.ip = "not an address";
  EXPECT_EQ(WriteV2(fields), std::nullopt);
}

TEST(SslTlv, DecodeRefusesTruncatedValues) {
  EXPECT_EQ(DecodeSslTlv(std::string("\x01\x00\x00\x00", 4)), std::nullopt);
  EXPECT_EQ(DecodeSslTlv(std::string("\x01\x00\x00\x00\x00\x21\x00", 7)), std::nullopt);
  EXPECT_EQ(DecodeSslTlv(std::string("\x01\x00\x00\x00\x00\x21\x00\x02T", 9)), std::nullopt);
  const auto empty = DecodeSslTlv(std::string("\x05\x00\x00\x00\x07", 5));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->client, 5);
  EXPECT_EQ(empty->verify, 7u);
}

TEST(SslTlv, DecodeSkipsUnknownSubtypes) {
  const auto ssl = DecodeSslTlv(std::string("\x01\x00\x00\x00\x00\x25\x00\x01X\x22\x00\x01Y", 13));
  ASSERT_TRUE(ssl);
  EXPECT_EQ(ssl->cn, "Y");
}

}  // namespace
}  // namespace moat::proxy_protocol
