// The admin API's HTTP(S) server: its own thread and io_context, like the metrics
// endpoint, so neither a slow caller nor a wait for the workers' answers stalls a worker.
//
//   accept ──(admin.max_connections)──► TLS handshake ──► one request (headers 8 KiB,
//   body admin.max_body_bytes, all within admin.request_timeout) ──► AdminAuth
//        ──401/403──► answered, counted, audited (admin_refused)
//        ──ok──────► AdminApi::Handle ──► JSON answer, counted by outcome
//
// Each connection answers one request and closes. With TLS every connection must
// complete the handshake (client certificates verified against admin.tls.client_ca).
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "proxy/admin/admin_api.h"
#include "proxy/admin/admin_auth.h"

namespace moat::proxy::admin {

struct AdminServerOptions {
  std::string host;
  uint16_t port = 0;
  std::shared_ptr<SSL_CTX> tls;  // null: plain HTTP (a bearer token is then required)
  size_t max_connections = 16;
  size_t max_body_bytes = 64 * 1024;
  std::chrono::milliseconds request_timeout{10'000};
};

class AdminServer {
 public:
  // Binds and starts serving on a new thread; `api`, `auth` and `metrics` must outlive it.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(AdminServerOptions options,
                                                            AdminApi& api, const AdminAuth& auth,
                                                            metrics::MetricsRegistry& metrics);
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;
  ~AdminServer();  // Stop()
  // Closes the listener and every connection, then joins the thread. Idempotent.
  void Stop();
  uint16_t port() const;
  // A reload's admin.tls files, for the handshakes from now on; ignored (null, or a
  // server started without TLS) so that plain HTTP never becomes HTTPS or back.
  void SetTlsContext(std::shared_ptr<SSL_CTX> context);

 private:
  class Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moat::proxy::admin
