// Keys and signed tokens made in the test itself (OpenSSL), so the verifier is checked
// against signatures it did not produce.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace moat::testing {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

enum class KeyType { kRsa, kP256, kEd25519 };

PrivateKey MakeKey(KeyType type);
// The public JWK of `key` as JSON, with `kid` when not empty.
std::string PublicJwk(EVP_PKEY* key, std::string_view kid);
// {"keys": [jwks...]} from JWK texts joined by commas.
std::string JwksOf(std::string_view joined_jwks);
// header.payload.signature; `alg` is written as given, the signature made for the key's
// type (RS256, ES256 with r||s, EdDSA).
std::string SignToken(EVP_PKEY* key, std::string_view header_json, std::string_view claims_json);
// An HS256 token whose secret is `secret` (the key-confusion attack uses a public key).
std::string SignHs256(std::string_view secret, std::string_view header_json,
                      std::string_view claims_json);
// The public key in PEM, as an attacker would find it.
std::string PublicPem(EVP_PKEY* key);

}  // namespace moat::testing
