#include "proxy/admin/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "proxy/tls/peer_identity.h"

namespace moat::proxy::admin {
namespace {

std::string SubjectOf(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string subject(data, size > 0 ? static_cast<size_t>(size) : 0);
  BIO_free(bio);
  return subject;
}

}  // namespace

AdminCaller AdminAuth::Check(std::string_view authorization, SSL* ssl) const {
  if (!authorization.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    const std::string_view given =
        authorization.starts_with(kBearer) ? authorization.substr(kBearer.size()) : "";
    std::lock_guard lock(mutex_);
    // Constant time: the comparison must not tell a caller how much of a token it got.
    const bool right = !token_.empty() && given.size() == token_.size() &&
                       CRYPTO_memcmp(given.data(), token_.data(), token_.size()) == 0;
    if (!right) return {AdminCaller::Verdict::kWrong, ""};
    return {AdminCaller::Verdict::kOk, "bearer"};
  }
  if (ssl != nullptr) {
    // The handshake has verified any certificate it kept against admin.tls.client_ca;
    // the check here makes sure one was sent and passed.
    X509* certificate = SSL_get0_peer_certificate(ssl);
    if (certificate != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
      return {AdminCaller::Verdict::kOk, "cert:" + SubjectOf(certificate) +
                                             " sha256:" + tls::CertificateFingerprint(certificate)};
    }
  }
  return {AdminCaller::Verdict::kMissing, ""};
}

}  // namespace moat::proxy::admin
