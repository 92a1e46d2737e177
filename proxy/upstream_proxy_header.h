// The PROXY header that opens a link to the broker (upstream.proxy_protocol): who the
// link is for, from the client's side of moat. The broker must accept the header only
// from moat's addresses: anyone else could claim any client with it.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/upstream.h"

namespace moat::proxy {

// The bytes to send before anything else; empty with proxy_protocol: none. A request
// without an identity (moat's readiness probe) gets v1 "PROXY UNKNOWN" or v2 LOCAL:
// the receiver then takes the link for moat's own. Throws
// boost::system::system_error(invalid_argument) when the header cannot be built (a
// client without its endpoints, fields longer than a TLV holds).
std::vector<uint8_t> UpstreamProxyHeader(config::UpstreamProxyProtocol version,
                                         const UpstreamRequest& request);

}  // namespace moat::proxy
