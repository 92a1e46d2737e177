// The metrics endpoint: an HTTP/1.1 server on its own thread and io_context, so a slow or
// hostile HTTP client can never stall a worker. It serves
//   GET /metrics  the Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when the Accept
//                 header asks for application/openmetrics-text
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 "ready", or 503 with one problem per line, from the proxy's callback,
//                 then the callback's note (how old the verdict is) on a line of its own
// and 404 for every other path, 405 for any method but GET and HEAD. Each connection
// answers one request and closes. The whole request, TLS handshake included, must arrive
// within the request timeout (the handshake alone within tls_handshake_timeout), its
// headers within header_limit bytes, and at most max_connections are open; a connection
// past that is closed at once. With a TLS context every connection must complete a TLS
// handshake first: anything else, plain HTTP included, is closed unanswered.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/registry.h"

namespace moat::metrics {

struct MetricsServerLimits {
  std::chrono::milliseconds request_timeout{10'000};        // accept to the last header byte
  std::chrono::milliseconds tls_handshake_timeout{10'000};  // accept to handshake done
  std::chrono::milliseconds write_timeout{10'000};          // the response and the TLS close
  size_t header_limit = 8 * 1024;
  size_t max_connections = 64;
  // When set, GET /metrics needs exactly this Authorization header ("Bearer TOKEN" or
  // "Basic BASE64"); /healthz and /readyz stay open for probes, as they reveal nothing.
  std::string authorization{};
  // When set, HTTPS only. The context is built by the caller (certificates, client CA,
  // protocol versions); the server only uses it, so it knows nothing of the config.
  std::shared_ptr<SSL_CTX> tls{};
};

// What /readyz answers.
struct ReadinessReport {
  std::vector<std::string> problems{};  // what keeps moat from being ready; empty: ready
  std::string note{};                   // one more line either way; empty: none
};

class MetricsServer {
 public:
  // Called on the metrics thread, so it must be thread-safe with respect to the proxy,
  // and must not wait on anything slow: /metrics and /healthz would wait behind it.
  using ReadinessCheck = std::function<ReadinessReport()>;

  // Binds host:port (an IP literal, with or without [], or a name resolved once; port 0
  // picks a free port, see port()) and starts serving on a new thread. Fails, without a
  // thread, when the address cannot be resolved or bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host,
                                                              uint16_t port,
                                                              MetricsRegistry& registry,
                                                              ReadinessCheck readiness_problems,
                                                              MetricsServerLimits limits = {});

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();  // Stop()

  // Closes the listener and every open HTTP connection, then joins the thread.
  // Idempotent; call from any thread but the metrics thread (i.e. not from the callback).
  void Stop();

  // The bound port: the one asked for, or the one the kernel picked for port 0.
  uint16_t port() const;

  // Thread-safe (SIGHUP): connections accepted from now on handshake with `context`;
  // open ones keep theirs. Ignored when null or when the server was started without
  // TLS, so a reload can never turn HTTPS into HTTP.
  void SetTlsContext(std::shared_ptr<SSL_CTX> context);

 private:
  class Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moat::metrics
