#include "proxy/admin/session_control.h"

#include <condition_variable>
#include <memory>
#include <mutex>

#include "proxy/worker.h"

namespace moat::proxy::admin {
namespace {

// Answers from the workers. Shared, because a worker may answer after the admin thread
// gave up waiting.
template <typename T>
struct Gather {
  std::mutex mutex;
  std::condition_variable done;
  size_t pending = 0;
  T result{};

  template <typename F>
  void Answer(F&& merge) {
    std::lock_guard lock(mutex);
    merge(result);
    if (--pending == 0) done.notify_all();
  }
  std::optional<T> Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    if (!done.wait_for(lock, timeout, [&] { return pending == 0; })) return std::nullopt;
    return std::move(result);
  }
};

}  // namespace

std::optional<std::vector<SessionSnapshot>> WorkerSessions::List() {
  auto gather = std::make_shared<Gather<std::vector<SessionSnapshot>>>();
  gather->pending = workers_.size();
  for (Worker* worker : workers_) {
    worker->CollectSessions([gather](std::vector<SessionSnapshot> snapshots) {
      gather->Answer([&](std::vector<SessionSnapshot>& all) {
        for (auto& snapshot : snapshots) all.push_back(std::move(snapshot));
      });
    });
  }
  return gather->Wait(timeout_);
}

std::optional<size_t> WorkerSessions::End(SessionMatch match) {
  auto gather = std::make_shared<Gather<size_t>>();
  gather->pending = workers_.size();
  for (Worker* worker : workers_) {
    worker->EndSessions(
        match, [gather](size_t ended) { gather->Answer([&](size_t& total) { total += ended; }); });
  }
  return gather->Wait(timeout_);
}

}  // namespace moat::proxy::admin
