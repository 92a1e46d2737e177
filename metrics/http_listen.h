// Opening the acceptor of an HTTP endpoint that runs on its own thread: the metrics
// endpoint and the admin API bind the same way.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace moat::metrics {

// Binds and listens on host:port: an IP literal, with or without [], or a name resolved
// once; port 0 picks a free port. Returns the bound port. `what` names the endpoint in
// errors ("metrics", "admin API").
absl::StatusOr<uint16_t> ListenOn(boost::asio::ip::tcp::acceptor& acceptor, std::string host,
                                  uint16_t port, std::string_view what);

}  // namespace moat::metrics
