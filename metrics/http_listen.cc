#include "metrics/http_listen.h"

#include <boost/asio/io_context.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace moat::metrics {

namespace asio = boost::asio;
using asio::ip::tcp;

absl::StatusOr<uint16_t> ListenOn(tcp::acceptor& acceptor, std::string host, uint16_t port,
                                  std::string_view what) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(host, ec), port);
  if (ec) {
    asio::io_context io;
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", std::string(what),
                                                     " address ", host, ": ", ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  uint16_t bound = 0;
  if (!ec) bound = acceptor.local_endpoint(ec).port();
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen for ", std::string(what), " on ",
                                               endpoint.address().to_string(), " port ", port, ": ",
                                               ec.message()));
  }
  return bound;
}

}  // namespace moat::metrics
