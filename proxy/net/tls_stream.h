// TLS straight on a non-blocking socket: OpenSSL reads and writes the file descriptor
// itself and the stream only waits for readiness. Unlike asio::ssl::stream this keeps
// no 2 x 17 KiB of staging buffers per connection and copies nothing twice; with
// SSL_MODE_RELEASE_BUFFERS an idle connection holds almost no TLS memory at all.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "proxy/net/byte_stream.h"

namespace moat::net {

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// The version and cipher `ssl` negotiated.
TlsParameters NegotiatedParameters(const SSL* ssl);

class TlsStream final : public ByteStream {
 public:
  // `ssl` is fresh from SSL_new; the stream sets its fd and its role.
  enum class Role { kServer, kClient };
  TlsStream(boost::asio::ip::tcp::socket socket, SslPtr ssl, Role role);
  // OpenSSL's read callback points at the stream.
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Client role: SNI and the name the peer's certificate must carry. Call before
  // Handshake().
  void SetPeerName(const std::string& server_name);
  boost::asio::awaitable<void> Handshake();

  boost::asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) override;
  boost::asio::awaitable<void> WriteAll(
      std::span<const boost::asio::const_buffer> buffers) override;
  IoResult TryRead(mqtt::Decoder& decoder) override;
  IoResult TryWrite(std::span<const boost::asio::const_buffer> buffers) override;
  void AwaitReady(Want want, mqtt::Decoder& decoder, ReadyListener& listener, int tag) override;
  void CancelWaits() override;
  void ShutdownNow() override;
  void Close() override;
  X509* PeerCertificate() const override;
  STACK_OF(X509) * PeerChain() const override { return SSL_get_peer_cert_chain(ssl_.get()); }
  TlsParameters Tls() const override { return NegotiatedParameters(ssl_.get()); }

  SSL* ssl() const { return ssl_.get(); }

 private:
  // Runs one OpenSSL call until it completes, waiting for readiness in between.
  // Returns false at a clean end of stream (close_notify, or EOF after a full record).
  template <typename Call>
  boost::asio::awaitable<bool> Drive(Call call);

  // What OpenSSL said after a non-blocking call: bytes, what to wait for, end or error.
  IoResult Settle(int ret, size_t bytes);

  // Told of every read OpenSSL makes on the socket: was it short (all the kernel had)?
  static long OnSocketRead(BIO* bio, int operation, const char* data, size_t length, int flags,
                           long argl, int ret, size_t* processed);

  boost::asio::ip::tcp::socket socket_;
  SslPtr ssl_;
  bool socket_read_short_ = false;  // the last socket read OpenSSL made in TryRead
};

}  // namespace moat::net
