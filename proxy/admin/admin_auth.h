// Who is asking the admin API: a bearer token (admin.bearer_token_file) or a client
// certificate verified against admin.tls.client_ca. There is no third way: a request
// with neither is refused, so the API is never open to whoever can reach the port.
#pragma once

#include <openssl/types.h>

#include <mutex>
#include <string>
#include <string_view>

namespace moat::proxy::admin {

struct AdminCaller {
  enum class Verdict { kOk, kMissing, kWrong };  // kMissing: 401, kWrong: 403
  Verdict verdict = Verdict::kMissing;
  // Who it is, for the audit trail: "bearer", or "cert:SUBJECT sha256:FINGERPRINT".
  std::string actor;
};

class AdminAuth {
 public:
  // `token` empty: no token is accepted.
  explicit AdminAuth(std::string token) : token_(std::move(token)) {}
  // A reload's admin.bearer_token_file: the old token stops working at once.
  void SetToken(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }

  // `authorization`: the request's Authorization header (empty when absent); `ssl`: its
  // TLS connection, null over plain HTTP. A token that is given must be right, even
  // when a good certificate came with it: a wrong secret is never waved through.
  AdminCaller Check(std::string_view authorization, SSL* ssl) const;

 private:
  mutable std::mutex mutex_;  // a reload replaces the token while requests check it
  std::string token_;
};

}  // namespace moat::proxy::admin
