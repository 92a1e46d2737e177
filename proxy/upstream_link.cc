#include "proxy/upstream_link.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/mqtt/decoder.h"
#include "proxy/net/catching.h"
#include "proxy/upstream_health.h"

namespace moat::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

UpstreamLink::UpstreamLink(std::unique_ptr<net::ByteStream> stream, UpstreamHealth& health,
                           size_t server, asio::any_io_executor executor)
    : stream_(std::move(stream)), health_(health), server_(server), executor_(std::move(executor)) {
  health_.LinkOpened(server_);
}

UpstreamLink::~UpstreamLink() { health_.LinkClosed(server_); }

asio::awaitable<bool> UpstreamLink::AwaitAnswer(std::chrono::milliseconds timeout) {
  mqtt::Decoder decoder({mqtt::Direction::kServerToClient, mqtt::kMaxPacketSize});
  asio::steady_timer timer(executor_, timeout);
  boost::system::error_code error;
  auto result = co_await (net::Catching(stream_->ReadInto(decoder), error) ||
                          timer.async_wait(asio::use_awaitable));
  if (result.index() == 1) co_return false;
  const std::span<const uint8_t> read = decoder.unread();
  early_.assign(read.begin(), read.end());
  // A broker that closes the link has answered too; the relay then sees the end.
  if (error || std::get<0>(result) == 0) {
    early_end_ = true;
    early_error_ = error;
  }
  co_return true;
}

net::IoResult UpstreamLink::TakeEarly(mqtt::Decoder& decoder) {
  net::IoResult result;
  if (!early_.empty()) {
    decoder.Feed(early_);
    result.bytes = early_.size();
    early_ = {};
    return result;
  }
  early_end_ = false;
  result.error = early_error_;
  result.end = !early_error_;
  return result;
}

asio::awaitable<size_t> UpstreamLink::ReadInto(mqtt::Decoder& decoder) {
  if (HasEarly()) {
    const net::IoResult result = TakeEarly(decoder);
    if (result.error) throw boost::system::system_error(result.error);
    co_return result.bytes;
  }
  const size_t bytes = co_await stream_->ReadInto(decoder);
  co_return bytes;
}

asio::awaitable<void> UpstreamLink::WriteAll(std::span<const asio::const_buffer> buffers) {
  co_await stream_->WriteAll(buffers);
}

net::IoResult UpstreamLink::TryRead(mqtt::Decoder& decoder) {
  if (HasEarly()) return TakeEarly(decoder);
  return stream_->TryRead(decoder);
}

net::IoResult UpstreamLink::TryWrite(std::span<const asio::const_buffer> buffers) {
  return stream_->TryWrite(buffers);
}

void UpstreamLink::AwaitReady(net::Want want, mqtt::Decoder& decoder, net::ReadyListener& listener,
                              int tag) {
  if (want == net::Want::kReadable && HasEarly()) {
    // Already readable: from the executor, never from inside this call.
    asio::post(executor_, [&listener, tag] { listener.OnReady(tag, {}); });
    return;
  }
  stream_->AwaitReady(want, decoder, listener, tag);
}

}  // namespace moat::proxy
