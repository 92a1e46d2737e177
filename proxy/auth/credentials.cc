#include "proxy/auth/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "proxy/cpu_budget.h"

namespace moat::proxy {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxCachedLogins = 100'000;

size_t PoolSize(int threads) { return static_cast<size_t>(DefaultThreads(threads)); }

}  // namespace

Credentials::Credentials(std::string path, int threads, size_t max_pending)
    : path_(std::move(path)), max_pending_(max_pending), pool_(PoolSize(threads)) {
  RAND_bytes(cache_key_, sizeof(cache_key_));
  file_ = std::make_shared<policy::PasswordFile>();
}

Credentials::~Credentials() {
  pool_.join();
  OPENSSL_cleanse(cache_key_, sizeof(cache_key_));
}

absl::Status Credentials::Load() {
  auto parsed = Parse();
  if (!parsed.ok()) return parsed.status();
  Install(*std::move(parsed));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const policy::PasswordFile>> Credentials::Parse() const {
  auto loaded = policy::PasswordFile::Load(path_);
  if (!loaded.ok()) return loaded.status();
  return std::make_shared<const policy::PasswordFile>(*std::move(loaded));
}

void Credentials::Install(std::shared_ptr<const policy::PasswordFile> file) {
  std::lock_guard lock(mutex_);
  file_ = std::move(file);
  ++version_;
  verified_.clear();  // a changed password must be checked again
}

std::shared_ptr<const policy::PasswordFile> Credentials::file() const {
  std::lock_guard lock(mutex_);
  return file_;
}

std::string Credentials::CacheKey(std::string_view user, std::string_view password) const {
  // User names cannot hold NUL, so "user\0password" is unambiguous.
  std::string message;
  message.reserve(user.size() + 1 + password.size());
  message.append(user).push_back('\0');
  message.append(password);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), cache_key_, sizeof(cache_key_),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size);
  OPENSSL_cleanse(message.data(), message.size());
  return std::string(reinterpret_cast<char*>(digest), size);
}

asio::awaitable<PasswordCheck> Credentials::Verify(std::string user, std::string password) {
  const std::string key = CacheKey(user, password);
  std::shared_ptr<const policy::PasswordFile> file;
  uint64_t version = 0;
  {
    std::lock_guard lock(mutex_);
    file = file_;
    version = version_;
    const auto it = verified_.find(key);
    if (it != verified_.end() && it->second == version) {
      OPENSSL_cleanse(password.data(), password.size());
      co_return PasswordCheck::kOk;
    }
  }
  if (pending_.fetch_add(1) >= max_pending_) {
    pending_.fetch_sub(1);
    OPENSSL_cleanse(password.data(), password.size());
    co_return PasswordCheck::kBusy;
  }
  // Hash on the pool, then hand the result back to this coroutine's own executor.
  const policy::VerifyResult result =
      co_await asio::async_initiate<decltype(asio::use_awaitable), void(policy::VerifyResult)>(
          [this, &file, &user, &password](auto handler) {
            asio::post(pool_, [&file, &user, &password, handler = std::move(handler)]() mutable {
              const policy::VerifyResult verdict = file->Verify(user, password);
              const auto executor = asio::get_associated_executor(handler);
              asio::post(executor, [handler = std::move(handler), verdict]() mutable {
                std::move(handler)(verdict);
              });
            });
          },
          asio::use_awaitable);
  pending_.fetch_sub(1);
  OPENSSL_cleanse(password.data(), password.size());
  switch (result) {
    case policy::VerifyResult::kOk: {
      std::lock_guard lock(mutex_);
      if (verified_.size() >= kMaxCachedLogins) verified_.clear();
      if (version == version_) verified_[key] = version;
      co_return PasswordCheck::kOk;
    }
    case policy::VerifyResult::kUnknownUser:
      co_return PasswordCheck::kUnknownUser;
    case policy::VerifyResult::kBadPassword:
      co_return PasswordCheck::kBadPassword;
  }
  co_return PasswordCheck::kBadPassword;
}

std::optional<std::string> Credentials::Fingerprint(const policy::PasswordFile& file,
                                                    std::string_view user) {
  const policy::PasswordEntry* entry = file.Find(user);
  if (entry == nullptr) return std::nullopt;
  std::string fingerprint(reinterpret_cast<const char*>(entry->salt.data()), entry->salt.size());
  fingerprint.append(reinterpret_cast<const char*>(entry->hash.data()), entry->hash.size());
  return fingerprint;
}

}  // namespace moat::proxy
