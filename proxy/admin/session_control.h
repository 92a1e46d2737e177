// The admin API's reach into the workers' sessions. Sessions live on worker threads and
// are touched only there, so the admin thread posts a question to every worker and waits
// (bounded) for all the answers:
//
//   admin thread ──post──► worker 1 .. N (each walks its own sessions) ──answer──┐
//        ▲                                                                        │
//        └──────────── Gather: mutex + condition variable, until all or timeout ◄─┘
//
// The data path is not touched: nothing is registered or counted per packet for this.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "policy/authorizer.h"
#include "proxy/session/session_snapshot.h"

namespace moat::proxy {
class Worker;
}

namespace moat::proxy::admin {

using SessionMatch = std::function<bool(const policy::ClientIdentity&)>;

class SessionControl {
 public:
  virtual ~SessionControl() = default;
  // Every admitted session; nullopt when a worker did not answer in time.
  virtual std::optional<std::vector<SessionSnapshot>> List() = 0;
  // Ends every session (admitted or logging in) `match` selects; how many, or nullopt.
  virtual std::optional<size_t> End(SessionMatch match) = 0;
};

class WorkerSessions final : public SessionControl {
 public:
  WorkerSessions(std::vector<Worker*> workers, std::chrono::milliseconds timeout)
      : workers_(std::move(workers)), timeout_(timeout) {}
  std::optional<std::vector<SessionSnapshot>> List() override;
  std::optional<size_t> End(SessionMatch match) override;

 private:
  std::vector<Worker*> workers_;
  std::chrono::milliseconds timeout_;
};

}  // namespace moat::proxy::admin
