#include "proxy/auth/credentials.h"

#include <openssl/crypto.h>

namespace moat::proxy {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxCachedLogins = 100'000;

}  // namespace

Credentials::Credentials(std::string path, AuthPool& pool) : path_(std::move(path)), pool_(pool) {
  file_ = std::make_shared<policy::PasswordFile>();
}

Credentials::~Credentials() {
  // Checks still on the pool use this object's file.
  pool_.Join();
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
  std::string key = cache_key_.Of(message);
  OPENSSL_cleanse(message.data(), message.size());
  return key;
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
  auto hash = [&file, &user, &password] { return file->Verify(user, password); };
  const std::optional<policy::VerifyResult> checked = co_await pool_.Run(hash);
  OPENSSL_cleanse(password.data(), password.size());
  if (!checked) co_return PasswordCheck::kBusy;
  switch (*checked) {
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
