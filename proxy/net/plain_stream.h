#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "proxy/net/byte_stream.h"

namespace moat::net {

class PlainStream final : public ByteStream {
 public:
  explicit PlainStream(boost::asio::ip::tcp::socket socket);

  boost::asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) override;
  boost::asio::awaitable<void> WriteAll(
      std::span<const boost::asio::const_buffer> buffers) override;
  IoResult TryRead(mqtt::Decoder& decoder) override;
  IoResult TryWrite(std::span<const boost::asio::const_buffer> buffers) override;
  void AwaitReady(Want want, mqtt::Decoder& decoder, ReadyListener& listener, int tag) override;
  void CancelWaits() override;
  void ShutdownNow() override;
  void Close() override;

 private:
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace moat::net
