// The PROXY header a link to the broker opens with, as built from the request admission
// makes: who the client is, read back with moat's parser. The TLS TLV of a client over
// TLS is compared with HAProxy's in integration_test_upstream_proxy_protocol.
#include "proxy/upstream_proxy_header.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>
#include <string>
#include <vector>

#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/proxy_protocol/tlv.h"
#include "tests/proxy/stub_stream.h"

namespace moat::proxy {
namespace {

using config::UpstreamProxyProtocol;
namespace pp = proxy_protocol;

class UpstreamProxyHeaderTest : public ::testing::Test {
 protected:
  UpstreamProxyHeaderTest() {
    identity_.username = "sensor-7";
    identity_.client_id = "line-3";
  }

  UpstreamRequest ClientRequest() const {
    return {.client_id = identity_.client_id,
            .identity = &identity_,
            .client = &client_,
            .endpoints = &endpoints_};
  }

  static pp::ParseResult Parse(const std::vector<uint8_t>& header) {
    pp::ParseResult result = pp::ParseProxyHeader(header, pp::ProxyProtocolVersionAllowed::kAny);
    EXPECT_EQ(result.status, pp::ParseStatus::kDone) << result.error;
    EXPECT_EQ(result.consumed, header.size());
    return result;
  }

  boost::asio::io_context io_;
  test::StubStream client_{io_};  // plain TCP: no TLS facts
  policy::ClientIdentity identity_;
  pp::ProxiedAddresses endpoints_{{"127.0.0.2", 40001}, {"127.0.0.1", 8883}};
};

TEST_F(UpstreamProxyHeaderTest, NoneSendsNothing) {
  EXPECT_TRUE(UpstreamProxyHeader(UpstreamProxyProtocol::kNone, ClientRequest()).empty());
}

TEST_F(UpstreamProxyHeaderTest, V1NamesTheClientAndWhereItConnected) {
  const std::vector<uint8_t> header =
      UpstreamProxyHeader(UpstreamProxyProtocol::kV1, ClientRequest());
  EXPECT_EQ(std::string(header.begin(), header.end()),
            "PROXY TCP4 127.0.0.2 127.0.0.1 40001 8883\r\n");
}

TEST_F(UpstreamProxyHeaderTest, V2CarriesUserAndClientIdAndNoTlsTlvForAPlainClient) {
  const pp::ParseResult result =
      Parse(UpstreamProxyHeader(UpstreamProxyProtocol::kV2, ClientRequest()));
  EXPECT_EQ(result.addresses, endpoints_);
  ASSERT_EQ(result.tlvs.size(), 2u);
  EXPECT_EQ(pp::FindTlv(result.tlvs, pp::kTypeSsl), std::nullopt);
  EXPECT_EQ(pp::FindTlv(result.tlvs, pp::kTypeMoatUser), "sensor-7");
  EXPECT_EQ(pp::FindTlv(result.tlvs, pp::kTypeMoatClientId), "line-3");
}

TEST_F(UpstreamProxyHeaderTest, AnAnonymousClientHasNoUserTlv) {
  identity_.username.clear();
  const pp::ParseResult result =
      Parse(UpstreamProxyHeader(UpstreamProxyProtocol::kV2, ClientRequest()));
  EXPECT_EQ(pp::FindTlv(result.tlvs, pp::kTypeMoatUser), std::nullopt);
}

// moat's readiness check: the receiver takes the link for the sender's own.
TEST_F(UpstreamProxyHeaderTest, ALinkOfMoatsOwnIsUnknownOrLocal) {
  const std::vector<uint8_t> v1 = UpstreamProxyHeader(UpstreamProxyProtocol::kV1, {});
  EXPECT_EQ(std::string(v1.begin(), v1.end()), "PROXY UNKNOWN\r\n");
  const pp::ParseResult v2 = Parse(UpstreamProxyHeader(UpstreamProxyProtocol::kV2, {}));
  EXPECT_TRUE(v2.is_local);
  EXPECT_TRUE(v2.tlvs.empty());
}

// A client link without its endpoints would be sent as moat's own: refused instead.
TEST_F(UpstreamProxyHeaderTest, AClientWithoutEndpointsIsRefused) {
  UpstreamRequest request = ClientRequest();
  request.endpoints = nullptr;
  for (const auto version : {UpstreamProxyProtocol::kV1, UpstreamProxyProtocol::kV2}) {
    EXPECT_THROW(UpstreamProxyHeader(version, request), boost::system::system_error);
  }
  endpoints_.source.ip = "unknown";  // the accept loop's text when getpeername failed
  EXPECT_THROW(UpstreamProxyHeader(UpstreamProxyProtocol::kV1, ClientRequest()),
               boost::system::system_error);
}

}  // namespace
}  // namespace moat::proxy
