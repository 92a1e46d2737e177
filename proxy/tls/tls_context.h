// OpenSSL contexts for the client-facing listeners, the upstream link and the metrics
// endpoint, built from the configuration with secure defaults: TLS 1.2 and 1.3 only,
// forward-secret AEAD ciphers, no renegotiation, no compression.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"

namespace moat::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::shared_ptr<SSL_CTX>;

absl::StatusOr<SslCtxPtr> MakeServerContext(const config::ServerTls& tls);
absl::StatusOr<SslCtxPtr> MakeClientContext(const config::UpstreamTls& tls);

// Every context the configuration asks for, built in one go: a reload swaps them all
// or none.
struct TlsContexts {
  std::vector<SslCtxPtr> listeners;  // one per config listener; null for plain TCP
  SslCtxPtr upstream;                // null for a plain TCP upstream
  // One per upstream server, as config.upstream.servers: `upstream` itself for those that
  // use upstream.tls, their own for those with a `tls:` of their own; null for plain TCP.
  std::vector<SslCtxPtr> upstream_servers;
  SslCtxPtr metrics;  // null unless metrics.tls is set
};
// On failure, every problem, one per line.
absl::StatusOr<TlsContexts> MakeTlsContexts(const config::Config& config);

using CrlPtr = std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)>;
// Every CRL in a PEM file, or the one in a DER file.
absl::StatusOr<std::vector<CrlPtr>> ReadCrls(const std::string& path);
// Adds the CRLs of `paths` to the context's store and checks client certificates against
// them (the leaf's issuer must have one).
absl::Status LoadCrls(SSL_CTX* ctx, const std::vector<std::string>& paths);

// The last OpenSSL error on this thread as text, and clears the queue.
std::string LastSslError();

}  // namespace moat::tls
