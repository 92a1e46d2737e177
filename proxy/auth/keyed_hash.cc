#include "proxy/auth/keyed_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace moat::proxy {

KeyedHash::KeyedHash() { RAND_bytes(key_, sizeof(key_)); }

KeyedHash::~KeyedHash() { OPENSSL_cleanse(key_, sizeof(key_)); }

std::string KeyedHash::Of(std::string_view message) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key_, sizeof(key_), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &size);
  return std::string(reinterpret_cast<char*>(digest), size);
}

}  // namespace moat::proxy
