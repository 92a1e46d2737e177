#include "proxy/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstring>

namespace moat::tls {
namespace {

// Mozilla's "intermediate" TLS 1.2 suites; TLS 1.3 suites are OpenSSL's defaults.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr unsigned char kAlpnMqtt[] = {4, 'm', 'q', 't', 't'};
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void*) {
  // Accept "mqtt" when offered; a client offering only other protocols still gets a
  // connection without ALPN, as mosquitto does.
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kAlpnMqtt, sizeof(kAlpnMqtt), in, in_len) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// The metrics endpoint speaks HTTP/1.1 only: a scraper offering h2 and http/1.1 must
// not be told "mqtt", and one offering only h2 falls back to HTTP/1.1 without ALPN.
int SelectHttp11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                 unsigned int in_len, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kAlpnHttp11, sizeof(kAlpnHttp11), in, in_len) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

absl::Status Fail(std::string_view what, std::string_view path) {
  return absl::InvalidArgumentError(std::string(path) + ": " + std::string(what) + ": " +
                                    LastSslError());
}

absl::StatusOr<SslCtxPtr> NewContext(const SSL_METHOD* method) {
  SslCtxPtr ctx(SSL_CTX_new(method), SslCtxDeleter{});
  if (!ctx) return absl::InternalError("SSL_CTX_new: " + LastSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Most MQTT clients close TCP without close_notify. MQTT packets carry their own
  // length, so a truncated stream can only lose a partial packet, which is never
  // forwarded: treat the missing close_notify as an ordinary close.
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One read() takes every record the socket holds instead of two per record (header,
  // then body): a burst of small MQTT packets costs a third of the system calls.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return absl::InternalError("cipher list: " + LastSslError());
  }
  return ctx;
}

absl::Status LoadKeyPair(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return Fail("cannot load certificate chain", cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return Fail("private key does not match certificate " + cert, key);
    }
    return Fail("cannot load private key", key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Fail("private key does not match certificate " + cert, key);
  }
  return absl::OkStatus();
}

// CRL checks stop at what the operator gave: a CA above the leaf with no CRL in the files
// is not an error (its CA may publish none); the leaf's issuer must have one.
bool IgnorableCrlError(X509_STORE_CTX* store, bool accept_stale) {
  const int error = X509_STORE_CTX_get_error(store);
  if (error == X509_V_ERR_UNABLE_TO_GET_CRL) return X509_STORE_CTX_get_error_depth(store) > 0;
  return accept_stale && error == X509_V_ERR_CRL_HAS_EXPIRED;
}

int VerifyCrls(int ok, X509_STORE_CTX* store, bool accept_stale) {
  if (ok != 0) return 1;
  if (!IgnorableCrlError(store, accept_stale)) return 0;
  // Cleared, or the handshake's verify result would keep the error: the stream would
  // then take the certificate for unverified, and auth.certificate_identity lose it.
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

int VerifyWithCrls(int ok, X509_STORE_CTX* store) {
  return VerifyCrls(ok, store, /*accept_stale=*/false);
}

int VerifyAcceptingStaleCrl(int ok, X509_STORE_CTX* store) {
  return VerifyCrls(ok, store, /*accept_stale=*/true);
}

}  // namespace

absl::StatusOr<std::vector<CrlPtr>> ReadCrls(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "rb"), BIO_free);
  if (!bio) return absl::InvalidArgumentError(path + ": cannot open CRL file: " + LastSslError());
  std::vector<CrlPtr> crls;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    crls.emplace_back(crl, X509_CRL_free);
  }
  ERR_clear_error();  // the PEM reader ends on "no start line"
  if (crls.empty()) {
    // Not PEM: one DER CRL, as CAs publish them at their distribution points.
    BIO_reset(bio.get());
    if (X509_CRL* crl = d2i_X509_CRL_bio(bio.get(), nullptr)) crls.emplace_back(crl, X509_CRL_free);
  }
  if (crls.empty()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(path + ": no CRL in the file (PEM or DER expected)");
  }
  return crls;
}

absl::Status LoadCrls(SSL_CTX* ctx, const std::vector<std::string>& paths) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const std::string& path : paths) {
    auto crls = ReadCrls(path);
    if (!crls.ok()) return crls.status();
    for (const CrlPtr& crl : *crls) {
      if (X509_STORE_add_crl(store, crl.get()) != 1) {
        return absl::InvalidArgumentError(path + ": cannot use CRL: " + LastSslError());
      }
    }
  }
  // The leaf always; the CAs above it wherever a CRL covers them (IgnorableCrlError).
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  return absl::OkStatus();
}

std::string LastSslError() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown error" : text;
}

absl::StatusOr<SslCtxPtr> MakeServerContext(const config::ServerTls& tls) {
  auto ctx = NewContext(TLS_server_method());
  if (!ctx.ok()) return ctx.status();
  SSL_CTX* raw = ctx->get();
  if (auto status = LoadKeyPair(raw, tls.cert, tls.key); !status.ok()) return status;
  SSL_CTX_set_alpn_select_cb(raw, SelectAlpn, nullptr);
  // Needed for session resumption to work when client certificates are verified.
  static constexpr unsigned char kSessionContext[] = "moat";
  SSL_CTX_set_session_id_context(raw, kSessionContext, sizeof(kSessionContext) - 1);
  // Sessions resume from tickets (TLS 1.2 and 1.3), which carry the session themselves.
  // OpenSSL's default server cache would also keep every session for 5 minutes, up to
  // 20,480 of them, scattered through the heap: after a reconnect storm that is megabytes
  // held for nothing, a fragmented heap that slows every later malloc, and a full walk of
  // the cache every 255 handshakes.
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  if (!tls.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(raw, tls.client_ca.c_str(), nullptr) != 1) {
      return Fail("cannot load client CA", tls.client_ca);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str());
    if (names == nullptr) return Fail("no CA certificate found", tls.client_ca);
    SSL_CTX_set_client_CA_list(raw, names);
    int mode = SSL_VERIFY_PEER;
    if (tls.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_verify_cb verify = nullptr;
    if (!tls.crl_files.empty()) {
      if (auto status = LoadCrls(raw, tls.crl_files); !status.ok()) return status;
      verify = tls.accept_stale_crl ? VerifyAcceptingStaleCrl : VerifyWithCrls;
    }
    SSL_CTX_set_verify(raw, mode, verify);
  }
  return ctx;
}

namespace {

// A server's TLS settings copied from upstream.tls share its context.
bool SameTls(const config::UpstreamTls& a, const config::UpstreamTls& b) {
  return a.ca == b.ca && a.server_name == b.server_name && a.cert == b.cert && a.key == b.key;
}

}  // namespace

absl::StatusOr<TlsContexts> MakeTlsContexts(const config::Config& config) {
  TlsContexts contexts;
  std::string problems;
  for (const config::Listener& listener : config.listeners) {
    SslCtxPtr context;
    if (listener.tls) {
      auto made = MakeServerContext(*listener.tls);
      if (made.ok()) {
        context = *made;
      } else {
        problems +=
            "listener " + listener.name + ": " + std::string(made.status().message()) + "\n";
      }
    }
    contexts.listeners.push_back(std::move(context));
  }
  if (config.upstream.tls) {
    auto made = MakeClientContext(*config.upstream.tls);
    if (made.ok()) {
      contexts.upstream = *made;
    } else {
      problems += "upstream: " + std::string(made.status().message()) + "\n";
    }
  }
  for (const config::UpstreamServer& server : config.upstream.servers) {
    SslCtxPtr context;
    if (server.tls && config.upstream.tls && SameTls(*server.tls, *config.upstream.tls)) {
      context = contexts.upstream;
    } else if (server.tls) {
      auto made = MakeClientContext(*server.tls);
      if (made.ok()) {
        context = *made;
      } else {
        problems += config.path + ":" + std::to_string(server.line) + ": upstream server " +
                    server.address.ToString() + ": " + std::string(made.status().message()) + "\n";
      }
    }
    contexts.upstream_servers.push_back(std::move(context));
  }
  if (config.metrics.tls) {
    auto made = MakeServerContext(*config.metrics.tls);
    if (made.ok()) {
      contexts.metrics = *made;
      SSL_CTX_set_alpn_select_cb(contexts.metrics.get(), SelectHttp11, nullptr);
    } else {
      problems += config.path + ":" + std::to_string(config.metrics.tls_line) +
                  ": metrics.tls: " + std::string(made.status().message()) + "\n";
    }
  }
  if (!problems.empty()) {
    problems.pop_back();
    return absl::InvalidArgumentError(problems);
  }
  return contexts;
}

absl::StatusOr<SslCtxPtr> MakeClientContext(const config::UpstreamTls& tls) {
  auto ctx = NewContext(TLS_client_method());
  if (!ctx.ok()) return ctx.status();
  SSL_CTX* raw = ctx->get();
  if (SSL_CTX_load_verify_locations(raw, tls.ca.c_str(), nullptr) != 1) {
    return Fail("cannot load CA", tls.ca);
  }
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  if (!tls.cert.empty()) {
    if (auto status = LoadKeyPair(raw, tls.cert, tls.key); !status.ok()) return status;
  }
  return ctx;
}

}  // namespace moat::tls
