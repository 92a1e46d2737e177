#include "proxy/session/end_reason.h"

namespace moat::proxy {

std::string_view EndReasonName(EndReason reason) {
  return metrics::ClosedDomainValues(metrics::Domain::kSessionEnd)[static_cast<size_t>(reason)];
}

}  // namespace moat::proxy
