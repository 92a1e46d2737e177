// Bearer tokens (auth.jwt): the JWKS in force, swapped atomically on reload, and the
// checks themselves on the AuthPool beside password hashing, never on an I/O thread.
// A verified token is remembered until it expires or the keys change, under a keyed hash
// of the whole token, so one token can never be taken for another and the cache holds
// nothing worth stealing.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "policy/token/jwt.h"
#include "proxy/auth/auth_pool.h"
#include "proxy/auth/keyed_hash.h"

namespace moat::proxy {

struct TokenResult {
  bool busy = false;  // the pool is full: nothing was checked
  policy::TokenCheck check;
};

class Tokens {
 public:
  Tokens(std::string jwks_path, policy::TokenRules rules, AuthPool& pool);
  ~Tokens();

  // Reads the JWKS file; on failure the keys in force stay ("FILE:LINE: message" lines).
  absl::Status Load();
  // The two halves of Load(), for a reload that checks every file before changing any.
  absl::StatusOr<std::shared_ptr<const policy::Jwks>> Parse() const;
  void Install(std::shared_ptr<const policy::Jwks> keys);

  boost::asio::awaitable<TokenResult> Verify(std::string token);

  // Checks on the calling thread: `moat policy explain --token`.
  policy::TokenCheck VerifyNow(std::string_view token) const;

  const policy::TokenRules& rules() const { return rules_; }

 private:
  struct Cached {
    policy::VerifiedToken token;
    uint64_t keys_version = 0;
  };

  const std::string jwks_path_;
  const policy::TokenRules rules_;
  AuthPool& pool_;
  KeyedHash cache_key_;

  mutable std::mutex mutex_;
  std::shared_ptr<const policy::Jwks> keys_;
  uint64_t keys_version_ = 0;
  std::unordered_map<std::string, Cached> verified_;
};

// Seconds since the epoch, the clock tokens are checked against.
int64_t WallClockSeconds();

}  // namespace moat::proxy
