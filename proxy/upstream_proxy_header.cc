#include "proxy/upstream_proxy_header.h"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include "proxy/proxy_protocol/header_writer.h"
#include "proxy/tls/peer_identity.h"

namespace moat::proxy {
namespace {

namespace pp = proxy_protocol;

[[noreturn]] void CannotBuild() {
  throw boost::system::system_error(boost::asio::error::invalid_argument);
}

// PP2_TYPE_SSL for a client that came over TLS, as HAProxy's send-proxy-v2-ssl-cn fills
// it; nullopt for a plain one.
std::optional<pp::SslTlv> ClientTls(const net::ByteStream& client) {
  const net::TlsParameters negotiated = client.Tls();
  if (negotiated.version.empty()) return std::nullopt;
  pp::SslTlv ssl;
  ssl.client = pp::kClientSsl;
  ssl.version = negotiated.version;
  ssl.cipher = negotiated.cipher;
  // The spec: zero when a certificate was presented and verified, non-zero otherwise.
  ssl.verify = 1;
  if (X509* certificate = client.PeerCertificate()) {
    ssl.verify = 0;
    // A resumed session's certificate was sent on an earlier connection.
    ssl.client |=
        negotiated.resumed ? pp::kClientCertSess : pp::kClientCertConn | pp::kClientCertSess;
    // Omitted, not guessed, when the subject has no CN or two of them.
    ssl.cn = tls::CertificateIdentity(certificate, config::CertificateIdentity::kCommonName)
                 .value_or("");
  }
  return ssl;
}

}  // namespace

std::vector<uint8_t> UpstreamProxyHeader(config::UpstreamProxyProtocol version,
                                         const UpstreamRequest& request) {
  if (version == config::UpstreamProxyProtocol::kNone) return {};
  pp::HeaderFields fields;
  if (request.identity != nullptr) {
    if (request.endpoints == nullptr) CannotBuild();
    fields.addresses = *request.endpoints;
  }
  if (version == config::UpstreamProxyProtocol::kV1) {
    const std::optional<std::string> line = pp::WriteV1(fields.addresses);
    if (!line) CannotBuild();
    return std::vector<uint8_t>(line->begin(), line->end());
  }
  if (request.identity != nullptr) {
    if (request.client != nullptr) fields.ssl = ClientTls(*request.client);
    fields.user = request.identity->username;
    fields.client_id = request.identity->client_id;
  }
  std::optional<std::vector<uint8_t>> header = pp::WriteV2(fields);
  if (!header) CannotBuild();
  return *std::move(header);
}

}  // namespace moat::proxy
