#include "proxy/source_addresses.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "absl/strings/str_cat.h"

namespace moat::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Without it bind() picks a port free towards every destination at once, and an address
// runs out after one port range in all instead of one per broker address.
void BindWithoutPort(tcp::socket& socket, const asio::ip::address& source,
                     boost::system::error_code& error) {
  const int on = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
  socket.bind(tcp::endpoint(source, 0), error);
}

}  // namespace

absl::Status CheckSourceAddresses(const std::vector<std::string>& addresses) {
  asio::io_context io;
  for (const std::string& text : addresses) {
    boost::system::error_code error;
    const asio::ip::address address = asio::ip::make_address(text, error);
    tcp::socket socket(io);
    if (!error) socket.open(address.is_v4() ? tcp::v4() : tcp::v6(), error);
    if (!error) BindWithoutPort(socket, address, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("upstream.source_addresses: cannot bind ", text, ": ", error.message()));
    }
  }
  return absl::OkStatus();
}

SourceAddresses::SourceAddresses(const std::vector<std::string>& addresses) {
  addresses_.reserve(addresses.size());
  for (const std::string& text : addresses) addresses_.push_back(asio::ip::make_address(text));
}

asio::awaitable<void> SourceAddresses::Connect(tcp::socket& socket,
                                               const tcp::endpoint& destination) const {
  if (socket.is_open()) socket.close();
  if (addresses_.empty()) {
    co_await socket.async_connect(destination, asio::use_awaitable);
    co_return;
  }
  const size_t count = addresses_.size();
  const size_t first = next_.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code last = asio::error::address_family_not_supported;
  for (size_t i = 0; i < count; ++i) {
    const asio::ip::address& source = addresses_[(first + i) % count];
    if (source.is_v4() != destination.address().is_v4()) continue;
    if (socket.is_open()) socket.close();
    socket.open(destination.protocol());
    boost::system::error_code error;
    BindWithoutPort(socket, source, error);
    if (!error) {
      auto [connected] =
          co_await socket.async_connect(destination, asio::as_tuple(asio::use_awaitable));
      error = connected;
    }
    if (!error) co_return;
    if (error != boost::system::errc::address_not_available &&
        error != boost::system::errc::address_in_use) {
      throw boost::system::system_error(error);
    }
    last = error;
  }
  throw boost::system::system_error(last);
}

asio::awaitable<void> SourceAddresses::ConnectAny(
    tcp::socket& socket, const std::vector<tcp::endpoint>& destinations) const {
  boost::system::error_code last = asio::error::host_not_found;
  for (const tcp::endpoint& destination : destinations) {
    try {
      co_await Connect(socket, destination);
      co_return;
    } catch (const boost::system::system_error& e) {
      last = e.code();
    }
  }
  throw boost::system::system_error(last);
}

}  // namespace moat::proxy
