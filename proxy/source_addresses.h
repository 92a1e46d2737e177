// upstream.source_addresses: the local addresses links to the broker leave from. One
// address can hold one port range of links to each broker address (about 28,000 with
// Linux's default net.ipv4.ip_local_port_range); N addresses hold N times that.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace moat::proxy {

// Binds each address once (no port taken): an address this host does not have would
// fail every link that picks it, so moat refuses to start with one instead.
absl::Status CheckSourceAddresses(const std::vector<std::string>& addresses);

class SourceAddresses {
 public:
  // IP literals, as the config validated them; empty: the kernel picks.
  explicit SourceAddresses(const std::vector<std::string>& addresses);

  // Connects `socket` (opened or not) to `destination`, bound to the next address of the
  // destination's family in turn. An address with no port left for the destination
  // (EADDRNOTAVAIL, EADDRINUSE) passes the attempt to the next; when all have failed that
  // way the last error is thrown, as are all other errors at once.
  boost::asio::awaitable<void> Connect(boost::asio::ip::tcp::socket& socket,
                                       const boost::asio::ip::tcp::endpoint& destination) const;

  // Each of `destinations` in order until one connects (a resolved host name); throws the
  // last error, or host_not_found when there is none.
  boost::asio::awaitable<void> ConnectAny(
      boost::asio::ip::tcp::socket& socket,
      const std::vector<boost::asio::ip::tcp::endpoint>& destinations) const;

 private:
  std::vector<boost::asio::ip::address> addresses_;
  // Shared by the links of one connector, which may run on several threads.
  mutable std::atomic<size_t> next_{0};
};

}  // namespace moat::proxy
