#include "proxy/tls/certificate_recheck.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

namespace moat::tls {
namespace {

uint32_t NameHash(const X509_NAME* name) {
  int ok = 0;
  const unsigned long hash = X509_NAME_hash_ex(name, nullptr, nullptr, &ok);
  return ok == 1 ? static_cast<uint32_t>(hash) : 0;
}

}  // namespace

std::string CertificateRecheck::Key(const X509_NAME* issuer, const ASN1_INTEGER* serial) {
  // A hash collision only costs a full verification, which decides.
  const uint32_t hash = NameHash(issuer);
  std::string key(reinterpret_cast<const char*>(&hash), sizeof(hash));
  key.push_back(static_cast<char>(ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER));
  key.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
             static_cast<size_t>(ASN1_STRING_length(serial)));
  return key;
}

std::shared_ptr<const CertificateRecheck> CertificateRecheck::For(SslCtxPtr context,
                                                                  std::time_t now) {
  if (!context || (SSL_CTX_get_verify_mode(context.get()) & SSL_VERIFY_PEER) == 0) return nullptr;
  std::shared_ptr<CertificateRecheck> recheck(new CertificateRecheck(context));
  X509_STORE* store = SSL_CTX_get_cert_store(context.get());
  X509_STORE_lock(store);
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* object = sk_X509_OBJECT_value(objects, i);
    if (X509* certificate = X509_OBJECT_get0_X509(object)) {
      recheck->subject_hashes_.insert(NameHash(X509_get_subject_name(certificate)));
    } else if (X509_CRL* crl = X509_OBJECT_get0_X509_CRL(object)) {
      const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl);
      if (next_update != nullptr && X509_cmp_time(next_update, &now) < 0) {
        recheck->verify_all_ = true;
      }
      STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
      for (int j = 0; j < sk_X509_REVOKED_num(entries); ++j) {
        recheck->revoked_.insert(
            Key(X509_CRL_get_issuer(crl),
                X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, j))));
      }
    }
  }
  X509_STORE_unlock(store);
  return recheck;
}

bool CertificateRecheck::PassesScreen(X509* leaf, STACK_OF(X509) * chain) const {
  if (verify_all_) return false;
  X509* top = leaf;
  const int sent = chain == nullptr ? 0 : sk_X509_num(chain);
  for (int i = -1; i < sent; ++i) {
    X509* certificate = i < 0 ? leaf : sk_X509_value(chain, i);
    if (revoked_.contains(
            Key(X509_get_issuer_name(certificate), X509_get0_serialNumber(certificate)))) {
      return false;
    }
    top = certificate;
  }
  // The CA the chain ends at must still be in the CA file.
  return subject_hashes_.contains(NameHash(X509_get_issuer_name(top)));
}

std::optional<std::string> CertificateRecheck::Refusal(X509* leaf, STACK_OF(X509) * chain) const {
  if (PassesScreen(leaf, chain)) return std::nullopt;
  // As OpenSSL verifies a client's chain in the handshake (ssl_verify_cert_chain).
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> verify(X509_STORE_CTX_new(),
                                                                         X509_STORE_CTX_free);
  if (!verify ||
      X509_STORE_CTX_init(verify.get(), SSL_CTX_get_cert_store(context_.get()), leaf, chain) != 1) {
    return "cannot verify the certificate again: " + LastSslError();  // fail closed
  }
  X509_STORE_CTX_set_default(verify.get(), "ssl_client");
  X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(verify.get()),
                         SSL_CTX_get0_param(context_.get()));
  if (SSL_verify_cb callback = SSL_CTX_get_verify_callback(context_.get())) {
    X509_STORE_CTX_set_verify_cb(verify.get(), callback);
  }
  const int verified = X509_verify_cert(verify.get());
  ERR_clear_error();
  if (verified == 1) return std::nullopt;
  return std::string(X509_verify_cert_error_string(X509_STORE_CTX_get_error(verify.get())));
}

}  // namespace moat::tls
