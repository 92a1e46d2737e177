#include "proxy/auth/tokens.h"

#include <openssl/crypto.h>

#include <chrono>

namespace moat::proxy {

namespace {

// A verified token is ~1 KiB of text hashed to 32 bytes plus its identity and groups; the
// cache is dropped whole when full rather than tracking age (it refills at the rate
// clients log in, one check each).
constexpr size_t kMaxCachedTokens = 100'000;

}  // namespace

int64_t WallClockSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Tokens::Tokens(std::string jwks_path, policy::TokenRules rules, AuthPool& pool)
    : jwks_path_(std::move(jwks_path)), rules_(std::move(rules)), pool_(pool) {}

Tokens::~Tokens() { pool_.Join(); }

absl::Status Tokens::Load() {
  auto parsed = Parse();
  if (!parsed.ok()) return parsed.status();
  Install(*std::move(parsed));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const policy::Jwks>> Tokens::Parse() const {
  return policy::Jwks::Load(jwks_path_);
}

void Tokens::Install(std::shared_ptr<const policy::Jwks> keys) {
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  ++keys_version_;
  verified_.clear();  // a removed key must stop admitting its tokens at once
}

policy::TokenCheck Tokens::VerifyNow(std::string_view token) const {
  std::shared_ptr<const policy::Jwks> keys;
  {
    std::lock_guard lock(mutex_);
    keys = keys_;
  }
  return policy::VerifyToken(token, *keys, rules_, WallClockSeconds());
}

boost::asio::awaitable<TokenResult> Tokens::Verify(std::string token) {
  const std::string key = cache_key_.Of(token);
  const int64_t now = WallClockSeconds();
  std::shared_ptr<const policy::Jwks> keys;
  uint64_t version = 0;
  {
    std::lock_guard lock(mutex_);
    keys = keys_;
    version = keys_version_;
    if (const auto it = verified_.find(key); it != verified_.end()) {
      // exp is checked again: a cached token is good only while it would still verify.
      if (it->second.keys_version == version && now < it->second.token.expires_at) {
        TokenResult cached;
        cached.check.token = it->second.token;
        co_return cached;
      }
      verified_.erase(it);
    }
  }
  auto check = [&] { return policy::VerifyToken(token, *keys, rules_, now); };
  std::optional<policy::TokenCheck> checked = co_await pool_.Run(check);
  OPENSSL_cleanse(token.data(), token.size());
  TokenResult result;
  if (!checked) {
    result.busy = true;
    co_return result;
  }
  result.check = *std::move(checked);
  if (result.check.refusal == policy::TokenRefusal::kNone) {
    std::lock_guard lock(mutex_);
    if (verified_.size() >= kMaxCachedTokens) verified_.clear();
    if (version == keys_version_) verified_[key] = Cached{result.check.token, version};
  }
  co_return result;
}

}  // namespace moat::proxy
