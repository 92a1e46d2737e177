#include "proxy/session/end_reason.h"

namespace moat::proxy {

std::string_view EndReasonName(EndReason reason) {
#define MOAT_END_REASON_CASE(id, name) \
  case EndReason::id:                  \
    return name;
  switch (reason) { MOAT_END_REASONS(MOAT_END_REASON_CASE) }
#undef MOAT_END_REASON_CASE
  return "unknown";
}

}  // namespace moat::proxy
