// After a reload: does a live session's client certificate still pass its listener's
// new CA file and CRLs? A handshake checked it once, against the files of that moment;
// revoking a certificate must also end the sessions it already opened.
//
// Checking every session in full would cost a chain verification each (tens of
// microseconds; seconds of a worker's time with 100,000 sessions), so a screen built
// once per reload picks the few that need it: a certificate the new CRLs list by issuer
// and serial, a chain whose top the new CA file does not hold, or any certificate at all
// when a CRL is past its nextUpdate. Only those are verified again, exactly as a new
// handshake would be (the listener's verify callback, so on_stale_crl holds), and a
// certificate that fails ends its session.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "proxy/tls/tls_context.h"

namespace moat::tls {

class CertificateRecheck {
 public:
  // For a listener's new context; null when it verifies no client certificates. Reads
  // the context's store, so call before the context is handed to the workers.
  static std::shared_ptr<const CertificateRecheck> For(SslCtxPtr context, std::time_t now);

  // Why `leaf` (with the untrusted `chain` its client sent, may be null) would be
  // refused now ("certificate revoked", ...); nullopt when it still passes. Thread-safe.
  std::optional<std::string> Refusal(X509* leaf, STACK_OF(X509) * chain) const;

  // Whether the screen lets the certificate through without a full verification.
  bool PassesScreen(X509* leaf, STACK_OF(X509) * chain) const;

 private:
  explicit CertificateRecheck(SslCtxPtr context) : context_(std::move(context)) {}
  // A CRL entry's key: the issuer's name hash and the serial number.
  static std::string Key(const X509_NAME* issuer, const ASN1_INTEGER* serial);

  SslCtxPtr context_;                             // holds the store and the verify callback
  absl::flat_hash_set<std::string> revoked_;      // Key() of every CRL entry
  absl::flat_hash_set<uint32_t> subject_hashes_;  // of the store's certificates
  bool verify_all_ = false;                       // some CRL is past its nextUpdate
};

}  // namespace moat::tls
