#include "proxy/auth/auth_pool.h"

#include "proxy/cpu_budget.h"

namespace moat::proxy {

AuthPool::AuthPool(int threads, size_t max_pending)
    : max_pending_(max_pending), pool_(static_cast<size_t>(DefaultThreads(threads))) {}

}  // namespace moat::proxy
