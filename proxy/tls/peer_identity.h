#pragma once

#include <openssl/x509.h>

#include <optional>
#include <string>

#include "proxy/config/config.h"

namespace moat::tls {

// The name a verified client certificate gives its holder: its subject CN, or its first
// SAN of the configured kind. nullopt when the certificate has no such field, or holds
// one with an embedded NUL (a classic way to smuggle "admin\0.evil" past a check).
std::optional<std::string> CertificateIdentity(X509* certificate,
                                               config::CertificateIdentity field);

// SHA-256 of the certificate's DER encoding, 64 lowercase hex digits: what
// `openssl x509 -fingerprint -sha256` prints, without its colons. Names exactly one
// certificate, where its identity fields may be shared by a reissued or a forged one.
std::string CertificateFingerprint(X509* certificate);

}  // namespace moat::tls
