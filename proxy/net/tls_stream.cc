#include "proxy/net/tls_stream.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <vector>

#include "proxy/mqtt/decoder.h"
#include "proxy/net/socket_readiness.h"

namespace moat::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

error_code SslError(int ssl_error) {
  const unsigned long queued = ERR_get_error();
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_SYSCALL && queued == 0) {
    const int saved = errno;
    // EOF in the middle of a record or handshake is a truncation attack or a crash,
    // never a clean close.
    return saved != 0 ? error_code(saved, boost::system::system_category())
                      : error_code(asio::ssl::error::stream_truncated);
  }
  return error_code(static_cast<int>(queued), asio::error::get_ssl_category());
}

[[noreturn]] void ThrowSslError(int ssl_error) {
  throw boost::system::system_error(SslError(ssl_error));
}

}  // namespace

TlsStream::TlsStream(asio::ip::tcp::socket socket, SslPtr ssl, Role role)
    : socket_(std::move(socket)), ssl_(std::move(ssl)) {
  socket_.non_blocking(true);
  socket_.set_option(asio::ip::tcp::no_delay(true));
  SSL_set_fd(ssl_.get(), socket_.native_handle());
  BIO* socket_bio = SSL_get_rbio(ssl_.get());
  BIO_set_callback_ex(socket_bio, &TlsStream::OnSocketRead);
  BIO_set_callback_arg(socket_bio, reinterpret_cast<char*>(this));
  if (role == Role::kServer) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
}

void TlsStream::SetPeerName(const std::string& server_name) {
  if (server_name.empty()) return;
  boost::system::error_code not_an_address;
  asio::ip::make_address(server_name, not_an_address);
  if (!not_an_address) {
    // An IP literal is matched against the certificate's IP SANs and is never sent as
    // SNI, which only carries host names (RFC 6066, section 3).
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), server_name.c_str()) != 1) {
      throw boost::system::system_error(asio::error::invalid_argument);
    }
    return;
  }
  SSL_set_tlsext_host_name(ssl_.get(), server_name.c_str());
  if (SSL_set1_host(ssl_.get(), server_name.c_str()) != 1) {
    throw boost::system::system_error(asio::error::invalid_argument);
  }
}

template <typename Call>
asio::awaitable<bool> TlsStream::Drive(Call call) {
  for (;;) {
    ERR_clear_error();
    const int ret = call();
    if (ret > 0) co_return true;
    const int error = SSL_get_error(ssl_.get(), ret);
    switch (error) {
      case SSL_ERROR_WANT_READ:
        co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, asio::use_awaitable);
        break;
      case SSL_ERROR_WANT_WRITE:
        co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, asio::use_awaitable);
        break;
      case SSL_ERROR_ZERO_RETURN:
        co_return false;
      default:
        ThrowSslError(error);
    }
  }
}

asio::awaitable<void> TlsStream::Handshake() {
  if (!co_await Drive([this] { return SSL_do_handshake(ssl_.get()); })) {
    throw boost::system::system_error(asio::error::eof);
  }
}

asio::awaitable<size_t> TlsStream::ReadInto(mqtt::Decoder& decoder) {
  // Wait for the socket first when OpenSSL holds nothing, so an idle connection keeps
  // neither a read buffer nor (with SSL_MODE_RELEASE_BUFFERS) OpenSSL's record buffer.
  if (decoder.buffered() == 0 && SSL_has_pending(ssl_.get()) == 0) {
    decoder.ReleaseIdleMemory();
    error_code ec;
    const size_t available = socket_.available(ec);
    if (!ec && available == 0) {
      co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, asio::use_awaitable);
    }
  }
  const auto space = decoder.PrepareWrite(kReadChunkSize);
  size_t n = 0;
  if (!co_await Drive([&] { return SSL_read_ex(ssl_.get(), space.data(), space.size(), &n); })) {
    co_return 0;
  }
  decoder.CommitWrite(n);
  co_return n;
}

asio::awaitable<void> TlsStream::WriteAll(std::span<const asio::const_buffer> buffers) {
  std::vector<asio::const_buffer> rest(buffers.begin(), buffers.end());
  size_t first = 0;
  while (first < rest.size()) {
    if (rest[first].size() == 0) {
      ++first;
      continue;
    }
    const IoResult result = TryWrite({rest.data() + first, rest.size() - first});
    if (result.error) throw boost::system::system_error(result.error);
    for (size_t written = result.bytes; written > 0;) {
      const size_t taken = std::min(written, rest[first].size());
      rest[first] += taken;
      written -= taken;
      if (rest[first].size() == 0) ++first;
    }
    if (result.want != Want::kNothing) {
      co_await socket_.async_wait(result.want == Want::kWritable ? asio::ip::tcp::socket::wait_write
                                                                 : asio::ip::tcp::socket::wait_read,
                                  asio::use_awaitable);
    }
  }
}

void TlsStream::CancelWaits() {
  error_code ignored;
  socket_.cancel(ignored);
}

void TlsStream::ShutdownNow() {
  // One close_notify, without waiting for the peer's: the socket closes right after.
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
  Close();
}

IoResult TlsStream::Settle(int ret, size_t bytes) {
  IoResult result;
  if (ret > 0) {
    result.bytes = bytes;
    return result;
  }
  const int error = SSL_get_error(ssl_.get(), ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      result.want = Want::kReadable;
      break;
    case SSL_ERROR_WANT_WRITE:
      result.want = Want::kWritable;
      break;
    case SSL_ERROR_ZERO_RETURN:
      result.end = true;
      break;
    default:
      result.error = SslError(error);
  }
  return result;
}

long TlsStream::OnSocketRead(BIO* bio, int operation, const char* /*data*/, size_t length,
                             int /*flags*/, long /*argl*/, int ret, size_t* processed) {
  if (operation == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* stream = reinterpret_cast<TlsStream*>(BIO_get_callback_arg(bio));
    stream->socket_read_short_ = ret > 0 && processed != nullptr && *processed < length;
  }
  return ret;
}

IoResult TlsStream::TryRead(mqtt::Decoder& decoder) {
  const auto space = decoder.PrepareWrite(kReadChunkSize);
  size_t n = 0;
  ERR_clear_error();
  socket_read_short_ = false;
  const int ret = SSL_read_ex(ssl_.get(), space.data(), space.size(), &n);
  IoResult result = Settle(ret, n);
  decoder.CommitWrite(result.bytes);
  // With read-ahead OpenSSL asks the socket for all the room it has. After a short read,
  // with nothing left undecrypted, the next SSL_read could only meet EAGAIN.
  result.drained = result.bytes > 0 && socket_read_short_ && SSL_has_pending(ssl_.get()) == 0;
  return result;
}

IoResult TlsStream::TryWrite(std::span<const asio::const_buffer> buffers) {
  // Several small pieces go out as one record rather than one record each. The joined
  // copy lives on the stack: a write OpenSSL could not finish is offered again by the
  // caller with the same pieces, which join to the same bytes
  // (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets them sit elsewhere).
  std::array<uint8_t, kReadChunkSize> joined;
  size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  const void* data = buffers.empty() ? nullptr : buffers.front().data();
  size_t size = buffers.empty() ? 0 : buffers.front().size();
  if (buffers.size() > 1 && total <= joined.size()) {
    size_t offset = 0;
    for (const auto& b : buffers) {
      std::memcpy(joined.data() + offset, b.data(), b.size());
      offset += b.size();
    }
    data = joined.data();
    size = total;
  }
  size_t written = 0;
  ERR_clear_error();
  const int ret = SSL_write_ex(ssl_.get(), data, size, &written);
  IoResult result = Settle(ret, written);
  if (result.end) result.error = asio::error::eof;
  return result;
}

void TlsStream::AwaitReady(Want want, mqtt::Decoder& /*decoder*/, ReadyListener& listener,
                           int tag) {
  AwaitSocket(socket_, want, listener, tag);
}

void TlsStream::Close() {
  error_code ignored;
  socket_.close(ignored);
}

TlsParameters NegotiatedParameters(const SSL* ssl) {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  return {SSL_get_version(ssl), cipher != nullptr ? SSL_CIPHER_get_name(cipher) : "",
          SSL_session_reused(ssl) == 1};
}

X509* TlsStream::PeerCertificate() const {
  // With SSL_VERIFY_PEER a certificate that failed verification fails the handshake, so
  // one that is here was verified; the check makes that explicit.
  if (SSL_get_verify_result(ssl_.get()) != X509_V_OK) return nullptr;
  return SSL_get0_peer_certificate(ssl_.get());
}

}  // namespace moat::net
