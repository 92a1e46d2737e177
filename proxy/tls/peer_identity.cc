#include "proxy/tls/peer_identity.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "absl/strings/escaping.h"

namespace moat::tls {
namespace {

std::optional<std::string> FromAsn1(const ASN1_STRING* value) {
  if (value == nullptr) return std::nullopt;
  const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(value));
  const int length = ASN1_STRING_length(value);
  if (data == nullptr || length <= 0) return std::nullopt;
  if (std::memchr(data, '\0', static_cast<size_t>(length)) != nullptr) return std::nullopt;
  return std::string(data, static_cast<size_t>(length));
}

std::optional<std::string> CommonName(X509* certificate) {
  const X509_NAME* subject = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::nullopt;
  // Two CNs make "the" CN ambiguous: refuse rather than pick one.
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) return std::nullopt;
  return FromAsn1(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
}

std::optional<std::string> FirstSan(X509* certificate, int type) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return std::nullopt;
  std::optional<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == type) found = FromAsn1(name->d.ia5);
  }
  GENERAL_NAMES_free(names);
  return found;
}

}  // namespace

std::optional<std::string> CertificateIdentity(X509* certificate,
                                               config::CertificateIdentity field) {
  if (certificate == nullptr) return std::nullopt;
  switch (field) {
    case config::CertificateIdentity::kNone:
      return std::nullopt;
    case config::CertificateIdentity::kCommonName:
      return CommonName(certificate);
    case config::CertificateIdentity::kSanDns:
      return FirstSan(certificate, GEN_DNS);
    case config::CertificateIdentity::kSanEmail:
      return FirstSan(certificate, GEN_EMAIL);
    case config::CertificateIdentity::kSanUri:
      return FirstSan(certificate, GEN_URI);
  }
  return std::nullopt;
}

std::string CertificateFingerprint(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha256(), digest, &length) != 1) return {};
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

}  // namespace moat::tls
