// The password file in force, swapped atomically on reload, checked on the bounded
// AuthPool: PBKDF2 never runs on an I/O thread, so a reconnect storm slows logins, not
// traffic.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "policy/credentials/password_file.h"
#include "proxy/auth/auth_pool.h"
#include "proxy/auth/keyed_hash.h"

namespace moat::proxy {

enum class PasswordCheck : uint8_t { kOk, kUnknownUser, kBadPassword, kBusy };

class Credentials {
 public:
  // A full `pool` means kBusy.
  Credentials(std::string path, AuthPool& pool);
  ~Credentials();

  // Reads the file; on failure the one in force stays and the status says where
  // ("FILE:LINE: message" lines).
  absl::Status Load();
  // The two halves of Load(), for a reload that must check every file before it
  // changes any.
  absl::StatusOr<std::shared_ptr<const policy::PasswordFile>> Parse() const;
  void Install(std::shared_ptr<const policy::PasswordFile> file);

  std::shared_ptr<const policy::PasswordFile> file() const;

  // Runs on the pool; the caller's coroutine resumes on its own executor.
  boost::asio::awaitable<PasswordCheck> Verify(std::string user, std::string password);

  // Identifies the entry a user authenticated with, so a reload can tell whether it
  // was removed or changed. nullopt for an unknown user.
  static std::optional<std::string> Fingerprint(const policy::PasswordFile& file,
                                                std::string_view user);

 private:
  std::string CacheKey(std::string_view user, std::string_view password) const;

  const std::string path_;
  AuthPool& pool_;
  KeyedHash cache_key_;

  mutable std::mutex mutex_;
  std::shared_ptr<const policy::PasswordFile> file_;
  uint64_t version_ = 0;
  // Keyed hash of (user, password) -> file version it was verified under. A keyed hash,
  // so the cache holds nothing an attacker could brute-force offline.
  std::unordered_map<std::string, uint64_t> verified_;
};

}  // namespace moat::proxy
