#include "proxy/net/plain_stream.h"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/mqtt/decoder.h"
#include "proxy/net/socket_readiness.h"

namespace moat::net {

namespace asio = boost::asio;

PlainStream::PlainStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  socket_.non_blocking(true);
  socket_.set_option(asio::ip::tcp::no_delay(true));
}

asio::awaitable<size_t> PlainStream::ReadInto(mqtt::Decoder& decoder) {
  for (;;) {
    // Try first: under load data is usually there and no wait is needed.
    const auto space = decoder.PrepareWrite(kReadChunkSize);
    boost::system::error_code ec;
    const size_t n = socket_.read_some(asio::buffer(space.data(), space.size()), ec);
    if (!ec) {
      decoder.CommitWrite(n);
      co_return n;
    }
    if (ec == asio::error::eof) co_return 0;
    if (ec != asio::error::would_block && ec != asio::error::try_again) {
      throw boost::system::system_error(ec);
    }
    if (decoder.buffered() == 0) decoder.ReleaseIdleMemory();
    co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, asio::use_awaitable);
  }
}

asio::awaitable<void> PlainStream::WriteAll(std::span<const asio::const_buffer> buffers) {
  co_await asio::async_write(socket_, buffers, asio::use_awaitable);
}

void PlainStream::ShutdownNow() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);
}

IoResult PlainStream::TryRead(mqtt::Decoder& decoder) {
  const auto space = decoder.PrepareWrite(kReadChunkSize);
  IoResult result;
  result.bytes = socket_.read_some(asio::buffer(space.data(), space.size()), result.error);
  if (!result.error) {
    decoder.CommitWrite(result.bytes);
    result.drained = result.bytes < space.size();
  } else if (result.error == asio::error::eof) {
    result.error.clear();
    result.end = true;
  } else if (result.error == asio::error::would_block || result.error == asio::error::try_again) {
    result.error.clear();
    result.want = Want::kReadable;
  }
  return result;
}

IoResult PlainStream::TryWrite(std::span<const asio::const_buffer> buffers) {
  IoResult result;
  result.bytes = socket_.write_some(buffers, result.error);
  if (result.error == asio::error::would_block || result.error == asio::error::try_again) {
    result.error.clear();
    result.bytes = 0;
    result.want = Want::kWritable;
  }
  return result;
}

void PlainStream::AwaitReady(Want want, mqtt::Decoder& /*decoder*/, ReadyListener& listener,
                             int tag) {
  AwaitSocket(socket_, want, listener, tag);
}

void PlainStream::CancelWaits() {
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

void PlainStream::Close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace moat::net
