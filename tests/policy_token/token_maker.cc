#include "tests/policy_token/token_maker.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <stdexcept>
#include <vector>

#include "policy/token/base64url.h"

namespace moat::testing {
namespace {

std::string Bytes(const BIGNUM* number, int size) {
  std::string out(size > 0 ? size : BN_num_bytes(number), '\0');
  BN_bn2binpad(number, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

std::string BigParam(EVP_PKEY* key, const char* name, int size = 0) {
  BIGNUM* number = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &number) != 1) throw std::runtime_error(name);
  std::string out = Bytes(number, size);
  BN_free(number);
  return out;
}

std::string B64(std::string_view bytes) { return policy::Base64UrlEncode(bytes); }

std::string DigestSign(EVP_PKEY* key, const EVP_MD* md, std::string_view input) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  size_t size = 0;
  EVP_DigestSignInit(context, nullptr, md, nullptr, key);
  EVP_DigestSign(context, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string signature(size, '\0');
  EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &size,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  signature.resize(size);
  EVP_MD_CTX_free(context);
  return signature;
}

}  // namespace

PrivateKey MakeKey(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return PrivateKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    case KeyType::kP256:
      return PrivateKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case KeyType::kEd25519:
      return PrivateKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  }
  return nullptr;
}

std::string PublicJwk(EVP_PKEY* key, std::string_view kid) {
  std::string jwk;
  if (EVP_PKEY_is_a(key, "RSA")) {
    jwk = "{\"kty\":\"RSA\",\"n\":\"" + B64(BigParam(key, OSSL_PKEY_PARAM_RSA_N)) + "\",\"e\":\"" +
          B64(BigParam(key, OSSL_PKEY_PARAM_RSA_E)) + "\"";
  } else if (EVP_PKEY_is_a(key, "EC")) {
    jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" +
          B64(BigParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + "\",\"y\":\"" +
          B64(BigParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"";
  } else {
    unsigned char raw[32];
    size_t size = sizeof(raw);
    EVP_PKEY_get_raw_public_key(key, raw, &size);
    jwk = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" +
          B64(std::string_view(reinterpret_cast<char*>(raw), size)) + "\"";
  }
  if (!kid.empty()) jwk += ",\"kid\":\"" + std::string(kid) + "\"";
  return jwk + "}";
}

std::string JwksOf(std::string_view joined_jwks) {
  return "{\"keys\": [" + std::string(joined_jwks) + "]}";
}

std::string SignToken(EVP_PKEY* key, std::string_view header_json, std::string_view claims_json) {
  const std::string input = B64(header_json) + "." + B64(claims_json);
  std::string signature;
  if (EVP_PKEY_is_a(key, "RSA")) {
    signature = DigestSign(key, EVP_sha256(), input);
  } else if (EVP_PKEY_is_a(key, "EC")) {
    // JWS wants r||s, OpenSSL gives DER.
    const std::string der = DigestSign(key, EVP_sha256(), input);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    signature = Bytes(ECDSA_SIG_get0_r(sig), 32) + Bytes(ECDSA_SIG_get0_s(sig), 32);
    ECDSA_SIG_free(sig);
  } else {
    signature = DigestSign(key, nullptr, input);
  }
  return input + "." + B64(signature);
}

std::string SignHs256(std::string_view secret, std::string_view header_json,
                      std::string_view claims_json) {
  const std::string input = B64(header_json) + "." + B64(claims_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + B64(std::string_view(reinterpret_cast<char*>(mac), size));
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

}  // namespace moat::testing
