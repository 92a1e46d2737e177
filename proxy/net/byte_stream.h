// A connected, ordered byte stream (plain TCP, TLS, WebSocket) as the session sees it.
// Two sets of calls: admission's coroutines (ReadInto, WriteAll) throw
// boost::system::system_error on failure, like asio's use_awaitable; the relay's
// non-blocking calls (TryRead, TryWrite) return the error in their IoResult, and
// AwaitReady hands it to the listener. Either way a session ends on the first error
// from either side.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct x509_st;
using X509 = x509_st;
struct stack_st_X509;  // STACK_OF(X509)

namespace moat::mqtt {
class Decoder;
}

namespace moat::net {

// What a non-blocking attempt needs before it can make progress.
enum class Want : uint8_t { kNothing, kReadable, kWritable };

// The result of a non-blocking read or write: `bytes` moved, or what to wait for, or
// the end of the stream (reads only), or an error.
struct IoResult {
  size_t bytes = 0;
  Want want = Want::kNothing;
  bool end = false;
  // Reads: the kernel handed over all it had (a short read), so another read now would
  // only fail with EAGAIN; the caller may wait for readability instead, in this same turn.
  bool drained = false;
  boost::system::error_code error;
};

// What the TLS handshake settled on, for the audit trail; both empty on a plain link.
// Both point at OpenSSL's static names, so they outlive the stream.
struct TlsParameters {
  std::string_view version;  // "TLSv1.3"
  std::string_view cipher;   // "TLS_AES_256_GCM_SHA384", OpenSSL's name
  bool resumed = false;      // from a session ticket: the client's certificate, if any,
                             // came with an earlier connection
};

// Told when a stream that answered "would block" may make progress. Called exactly
// once per AwaitReady, never from inside it; with operation_aborted after Close().
class ReadyListener {
 public:
  virtual void OnReady(int tag, const boost::system::error_code& error) = 0;

 protected:
  ~ReadyListener() = default;
};

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

  // The relay that carries an admitted session uses these non-blocking forms instead,
  // so that an idle connection parks as two small pending waits, not as a chain of
  // coroutine frames.
  //
  // Reads what is there into `decoder`, without waiting.
  virtual IoResult TryRead(mqtt::Decoder& decoder) = 0;
  // Writes a prefix of `buffers` (possibly all, possibly none), without waiting. After a
  // partial write the caller offers the same bytes again, possibly with more after them.
  virtual IoResult TryWrite(std::span<const boost::asio::const_buffer> buffers) = 0;
  // Calls `listener.OnReady(tag, ...)` once `want` may be satisfied. A stream that reads
  // by completion rather than readiness (WebSocket) reads into `decoder` meanwhile.
  virtual void AwaitReady(Want want, mqtt::Decoder& decoder, ReadyListener& listener, int tag) = 0;
  // Ends the pending AwaitReady waits now, with operation_aborted, and leaves the stream
  // open. Only streams that report short reads as `drained` need it (ShortReadSweep).
  virtual void CancelWaits() {}
  // Graceful end without suspending: TLS close_notify, a WebSocket close frame sent on
  // its own time, TCP FIN. Errors are ignored.
  virtual void ShutdownNow() = 0;

  // Abrupt end: no goodbye of any kind. For the upstream link this is what makes the
  // broker publish the client's Will.
  virtual void Close() = 0;

  // The client certificate the TLS handshake verified, or null (plain TCP, no
  // certificate presented). Owned by the stream.
  virtual X509* PeerCertificate() const { return nullptr; }
  // The certificates the client sent above its own, or null; owned by the stream.
  virtual stack_st_X509* PeerChain() const { return nullptr; }
  // Valid once the handshake is done.
  virtual TlsParameters Tls() const { return {}; }
};

// Reads at most this much per call; one TLS record's worth.
inline constexpr size_t kReadChunkSize = 16 * 1024;

}  // namespace moat::net
