// A connected, ordered byte stream (plain TCP, TLS, WebSocket) as the session sees it.
// Every operation throws boost::system::system_error on failure, like asio's
// use_awaitable, so a session ends on the first error from either side.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <span>
#include <string>

struct x509_st;
using X509 = x509_st;

namespace moat::mqtt {
class Decoder;
}

namespace moat::net {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Reads at least one byte into `decoder` and returns how many; 0 means the peer closed
  // the stream cleanly. While nothing arrives the decoder's idle buffer is released, so
  // an idle connection holds no read buffer.
  virtual boost::asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) = 0;

  // Writes all of `buffers`; callers serialise their writes.
  virtual boost::asio::awaitable<void> WriteAll(
      std::span<const boost::asio::const_buffer> buffers) = 0;

  // Graceful end: TLS close_notify, WebSocket close, TCP FIN. Errors are ignored.
  virtual boost::asio::awaitable<void> Shutdown() = 0;

  // Abrupt end: no goodbye of any kind. For the upstream link this is what makes the
  // broker publish the client's Will.
  virtual void Close() = 0;

  // The peer as "ip:port", for logs.
  virtual std::string PeerAddress() const = 0;

  // The client certificate the TLS handshake verified, or null (plain TCP, no
  // certificate presented). Owned by the stream.
  virtual X509* PeerCertificate() const { return nullptr; }
};

// Reads at most this much per call; one TLS record's worth.
inline constexpr size_t kReadChunkSize = 16 * 1024;

}  // namespace moat::net
