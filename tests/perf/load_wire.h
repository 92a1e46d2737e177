// The MQTT 3.1.1 client side shared by mqtt_load's modes: packets encoded by hand (the
// generator must not share a bug with the codec of the proxy it measures), a packet
// reader, and a connection that is plain or TLS and may be bound to a source address.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqtt_load {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void Die(const std::string& message);

// ---- Encoding ---------------------------------------------------------------------

void PutU16(Bytes& out, uint16_t v);
void PutString(Bytes& out, std::string_view s);
void PutRemainingLength(Bytes& out, size_t n);
void PutPacket(Bytes& out, uint8_t header, const Bytes& body);

// A clean-session 3.1.1 CONNECT; with a user name, the password goes along.
Bytes ConnectPacket(std::string_view client_id, uint16_t keep_alive, std::string_view username = {},
                    std::string_view password = {});
Bytes SubscribePacket(uint16_t packet_id, std::string_view filter, int qos);

// A PUBLISH whose payload holds [send time ns: 8][publisher: 4][sequence: 4], patched in
// place for every message; `id_offset` locates the packet id (QoS 1). The payload is that
// stamp and filler, or with `sparkplug` a valid Sparkplug B payload with the stamp at
// kSparkplugStampAt (load_sparkplug.h).
struct PublishTemplate {
  Bytes bytes;
  size_t id_offset = 0;
  size_t payload_offset = 0;  // of the stamp

  PublishTemplate(std::string_view topic, int qos, size_t payload_size, uint32_t publisher,
                  bool sparkplug = false);
  void AppendTo(Bytes& out, uint16_t packet_id, uint32_t sequence, int qos) const;
};

// What a PUBLISH received by a subscriber carries: the stamp PublishTemplate wrote.
struct Stamp {
  uint64_t sent_at_ns = 0;
  uint32_t publisher = 0;
  int qos = 0;
  uint16_t packet_id = 0;  // QoS 1
};

// ---- Framing ----------------------------------------------------------------------

struct Packet {
  uint8_t header = 0;
  const uint8_t* body = nullptr;
  size_t size = 0;
  int type() const { return header >> 4; }
  // The stamp of a PUBLISH from PublishTemplate, `stamp_at` bytes into its payload;
  // throws if it is too short for one.
  Stamp ReadStamp(size_t stamp_at = 0) const;
};

class PacketReader {
 public:
  asio::mutable_buffer Prepare(size_t n);
  void Commit(size_t n) { end_ += n; }
  // The next whole packet, if one is buffered. Valid until the next Prepare().
  std::optional<Packet> Next();

 private:
  Bytes buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// ---- Connections ------------------------------------------------------------------

// A client TLS context: every connection a full handshake (no session is ever offered
// for resumption); the server is verified against `cafile` when one is given.
void ConfigureClientTls(ssl::context& tls, const std::string& cafile);

class Conn {
 public:
  Conn(asio::io_context& io, ssl::context* tls);

  tcp::socket& Socket() { return tls_ ? tls_->next_layer() : *plain_; }
  bool tls() const { return tls_.has_value(); }

  // TCP connect from `source` (any port) if given, then the TLS handshake if TLS.
  awaitable<void> Connect(const tcp::endpoint& endpoint,
                          const std::optional<asio::ip::address>& source = std::nullopt);
  awaitable<void> ConnectTcp(const tcp::endpoint& endpoint,
                             const std::optional<asio::ip::address>& source);
  awaitable<size_t> ReadSome(asio::mutable_buffer buffer);
  awaitable<void> Write(asio::const_buffer bytes);
  awaitable<void> Write(const Bytes& bytes) { return Write(asio::buffer(bytes)); }
  // Reads until one whole packet is buffered and returns it.
  awaitable<Packet> ReadPacket();
  // CONNECT, then CONNACK with return code 0 or an exception.
  awaitable<void> MqttConnect(std::string_view client_id, uint16_t keep_alive = 600,
                              std::string_view username = {}, std::string_view password = {});
  std::string TlsDescription();
  void Close();
  // Closes with a RST instead of a FIN: no TIME_WAIT left behind, as a flooding client
  // that reconnects thousands of times would do.
  void Abort();

  PacketReader& reader() { return reader_; }

 private:
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::optional<tcp::socket> plain_;
  PacketReader reader_;
};

// Source addresses used in turn: --bind A,B,C.
class SourceAddresses {
 public:
  explicit SourceAddresses(const std::vector<std::string>& addresses);
  std::optional<asio::ip::address> Next();

 private:
  std::vector<asio::ip::address> addresses_;
  size_t next_ = 0;
};

// What all connections of a mode share: one io_context (one thread), one client TLS
// context, the source addresses and the target.
struct Network {
  Network(const std::string& host, uint16_t port, const std::string& cafile,
          const std::vector<std::string>& bind);
  std::unique_ptr<Conn> NewConn(bool with_tls) {
    return std::make_unique<Conn>(io, with_tls ? &tls : nullptr);
  }

  asio::io_context io{1};
  ssl::context tls{ssl::context::tls_client};
  SourceAddresses sources;
  tcp::endpoint endpoint;
};

// A level-triggered wake-up for coroutines on one thread: the waiter re-checks its
// condition after every wake, so a Notify() with nobody waiting is simply not needed.
class Event {
 public:
  explicit Event(asio::io_context& io) : timer_(io) {}
  awaitable<void> Wait();
  void Notify() {
    if (waiting_) timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  bool waiting_ = false;
};

// Closes `conn` if still alive after `seconds`, which makes whatever it awaits fail:
// a timeout for one step of a coroutine, cancelled when the guard goes out of scope.
class CloseAfter {
 public:
  CloseAfter(asio::io_context& io, Conn& conn, double seconds);
  ~CloseAfter();
  CloseAfter(const CloseAfter&) = delete;
  CloseAfter& operator=(const CloseAfter&) = delete;
  bool fired() const { return *fired_; }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> armed_ = std::make_shared<bool>(true);
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};

// Runs `body` detached on `io`. An exception escaping it ends the program with its
// message, unless `*ignore_errors` is true by then (errors after a mode has stopped its
// connections are expected).
template <typename Awaitable>
void SpawnOrDie(asio::io_context& io, Awaitable body, std::string what,
                const bool* ignore_errors = nullptr) {
  asio::co_spawn(io, std::move(body), [what, ignore_errors](std::exception_ptr error) {
    if (!error || (ignore_errors != nullptr && *ignore_errors)) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      Die(what + ": " + e.what());
    }
  });
}

// Runs `main` on `io` until it returns (then stops `io`, ending detached work too) or
// throws (then dies with the message).
void RunUntilDone(asio::io_context& io, awaitable<void> main, const std::string& what);

awaitable<void> Sleep(double seconds);
awaitable<void> SleepUntil(Clock::time_point when);

Clock::duration Seconds(double seconds);
double SecondsSince(Clock::time_point start);
uint64_t NowNs();

}  // namespace mqtt_load
