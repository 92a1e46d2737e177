// HMAC-SHA256 under a random key made per process: what the login caches (passwords,
// tokens) are keyed by, so a cache holds nothing an attacker could brute-force offline or
// carry to another process.
#pragma once

#include <string>
#include <string_view>

namespace moat::proxy {

class KeyedHash {
 public:
  KeyedHash();
  ~KeyedHash();
  KeyedHash(const KeyedHash&) = delete;
  KeyedHash& operator=(const KeyedHash&) = delete;

  std::string Of(std::string_view message) const;

 private:
  unsigned char key_[32];
};

}  // namespace moat::proxy
