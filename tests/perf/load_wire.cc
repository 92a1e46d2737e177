#include "load_wire.h"

#include <netinet/in.h>

#include <cstring>
#include <iostream>
#include <stdexcept>

#include "load_sparkplug.h"

namespace mqtt_load {

void Die(const std::string& message) {
  std::cerr << "mqtt_load: " << message << "\n";
  std::exit(2);
}

// ---- Encoding ---------------------------------------------------------------------

void PutU16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void PutString(Bytes& out, std::string_view s) {
  PutU16(out, static_cast<uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

void PutRemainingLength(Bytes& out, size_t n) {
  do {
    uint8_t byte = n % 128;
    n /= 128;
    if (n > 0) byte |= 0x80;
    out.push_back(byte);
  } while (n > 0);
}

void PutPacket(Bytes& out, uint8_t header, const Bytes& body) {
  out.push_back(header);
  PutRemainingLength(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

Bytes ConnectPacket(std::string_view client_id, uint16_t keep_alive, std::string_view username,
                    std::string_view password) {
  Bytes body;
  PutString(body, "MQTT");
  body.push_back(4);                     // protocol level 3.1.1
  uint8_t flags = 0x02;                  // clean session
  if (!username.empty()) flags |= 0xc0;  // user name and password
  body.push_back(flags);
  PutU16(body, keep_alive);
  PutString(body, client_id);
  if (!username.empty()) {
    PutString(body, username);
    PutString(body, password);
  }
  Bytes out;
  PutPacket(out, 0x10, body);
  return out;
}

Bytes SubscribePacket(uint16_t packet_id, std::string_view filter, int qos) {
  Bytes body;
  PutU16(body, packet_id);
  PutString(body, filter);
  body.push_back(static_cast<uint8_t>(qos));
  Bytes out;
  PutPacket(out, 0x82, body);
  return out;
}

PublishTemplate::PublishTemplate(std::string_view topic, int qos, size_t payload_size,
                                 uint32_t publisher, bool sparkplug) {
  Bytes body;
  PutString(body, topic);
  const size_t id_at = body.size();
  if (qos > 0) PutU16(body, 1);
  size_t payload_at = body.size();
  if (sparkplug) {
    const Bytes payload = SparkplugPayload(payload_size);
    body.insert(body.end(), payload.begin(), payload.end());
    payload_at += kSparkplugStampAt;
  } else {
    body.resize(body.size() + payload_size, 'x');
  }
  std::memcpy(body.data() + payload_at + 8, &publisher, 4);
  PutPacket(bytes, static_cast<uint8_t>(0x30 | (qos << 1)), body);
  const size_t header_size = bytes.size() - body.size();
  id_offset = header_size + id_at;
  payload_offset = header_size + payload_at;
}

void PublishTemplate::AppendTo(Bytes& out, uint16_t packet_id, uint32_t sequence, int qos) const {
  const size_t at = out.size();
  out.insert(out.end(), bytes.begin(), bytes.end());
  uint8_t* p = out.data() + at;
  if (qos > 0) {
    p[id_offset] = static_cast<uint8_t>(packet_id >> 8);
    p[id_offset + 1] = static_cast<uint8_t>(packet_id);
  }
  const uint64_t now = NowNs();
  std::memcpy(p + payload_offset, &now, 8);
  std::memcpy(p + payload_offset + 12, &sequence, 4);
}

// ---- Framing ----------------------------------------------------------------------

Stamp Packet::ReadStamp(size_t stamp_at) const {
  Stamp stamp;
  stamp.qos = (header >> 1) & 3;
  if (size < 2) throw std::runtime_error("short PUBLISH");
  size_t offset = 2 + ((body[0] << 8) | body[1]);
  if (stamp.qos > 0) {
    if (size < offset + 2) throw std::runtime_error("short PUBLISH");
    stamp.packet_id = static_cast<uint16_t>((body[offset] << 8) | body[offset + 1]);
    offset += 2;
  }
  offset += stamp_at;
  if (size < offset + 16) throw std::runtime_error("short PUBLISH payload");
  std::memcpy(&stamp.sent_at_ns, body + offset, 8);
  std::memcpy(&stamp.publisher, body + offset + 8, 4);
  return stamp;
}

asio::mutable_buffer PacketReader::Prepare(size_t n) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (begin_ > 0 && buffer_.size() - end_ < n) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buffer_.size() - end_ < n) buffer_.resize(end_ + n);
  return {buffer_.data() + end_, n};
}

std::optional<Packet> PacketReader::Next() {
  const size_t available = end_ - begin_;
  if (available < 2) return std::nullopt;
  const uint8_t* p = buffer_.data() + begin_;
  size_t length = 0, shift = 0, i = 1;
  for (;; ++i) {
    if (i >= available) return std::nullopt;
    if (i > 4) Die("malformed remaining length from the server");
    length |= static_cast<size_t>(p[i] & 0x7f) << shift;
    shift += 7;
    if ((p[i] & 0x80) == 0) break;
  }
  const size_t total = i + 1 + length;
  if (available < total) return std::nullopt;
  begin_ += total;
  return Packet{p[0], p + i + 1, length};
}

// ---- Connections ------------------------------------------------------------------

void ConfigureClientTls(ssl::context& tls, const std::string& cafile) {
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3);
  SSL_CTX_set_session_cache_mode(tls.native_handle(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(tls.native_handle(), SSL_OP_NO_TICKET);
  if (!cafile.empty()) {
    tls.load_verify_file(cafile);
    tls.set_verify_mode(ssl::verify_peer);
  } else {
    tls.set_verify_mode(ssl::verify_none);
  }
}

Conn::Conn(asio::io_context& io, ssl::context* tls) {
  if (tls != nullptr) {
    tls_.emplace(io, *tls);
  } else {
    plain_.emplace(io);
  }
}

awaitable<void> Conn::ConnectTcp(const tcp::endpoint& endpoint,
                                 const std::optional<asio::ip::address>& source) {
  if (source) {
    Socket().open(endpoint.protocol());
    // The port is picked at connect time from the whole 4-tuple instead of at bind time
    // from the address alone, so thousands of connections from one address fit.
    using BindNoPort = asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;
    Socket().set_option(BindNoPort(true));
    Socket().bind(tcp::endpoint(*source, 0));
  }
  co_await Socket().async_connect(endpoint, use_awaitable);
  Socket().set_option(tcp::no_delay(true));
}

awaitable<void> Conn::Connect(const tcp::endpoint& endpoint,
                              const std::optional<asio::ip::address>& source) {
  co_await ConnectTcp(endpoint, source);
  if (tls_) co_await tls_->async_handshake(ssl::stream_base::client, use_awaitable);
}

awaitable<size_t> Conn::ReadSome(asio::mutable_buffer buffer) {
  if (tls_) co_return co_await tls_->async_read_some(buffer, use_awaitable);
  co_return co_await plain_->async_read_some(buffer, use_awaitable);
}

awaitable<void> Conn::Write(asio::const_buffer bytes) {
  if (tls_) {
    co_await asio::async_write(*tls_, bytes, use_awaitable);
  } else {
    co_await asio::async_write(*plain_, bytes, use_awaitable);
  }
}

awaitable<Packet> Conn::ReadPacket() {
  for (;;) {
    if (auto packet = reader_.Next()) co_return *packet;
    const size_t n = co_await ReadSome(reader_.Prepare(16384));
    reader_.Commit(n);
  }
}

awaitable<void> Conn::MqttConnect(std::string_view client_id, uint16_t keep_alive,
                                  std::string_view username, std::string_view password) {
  co_await Write(ConnectPacket(client_id, keep_alive, username, password));
  const Packet connack = co_await ReadPacket();
  if (connack.type() != 2 || connack.size != 2 || connack.body[1] != 0) {
    const int code = connack.type() == 2 && connack.size == 2 ? connack.body[1] : -1;
    throw std::runtime_error("no CONNACK 0 for " + std::string(client_id) + " (got " +
                             std::to_string(code) + ")");
  }
}

std::string Conn::TlsDescription() {
  if (!tls_) return "plain";
  return std::string(SSL_get_version(tls_->native_handle())) + " " +
         SSL_get_cipher_name(tls_->native_handle());
}

void Conn::Close() {
  boost::system::error_code ignored;
  Socket().close(ignored);
}

void Conn::Abort() {
  boost::system::error_code ignored;
  Socket().set_option(asio::socket_base::linger(true, 0), ignored);
  Socket().close(ignored);
}

SourceAddresses::SourceAddresses(const std::vector<std::string>& addresses) {
  for (const auto& text : addresses) {
    boost::system::error_code ec;
    addresses_.push_back(asio::ip::make_address(text, ec));
    if (ec) Die("--bind wants IP addresses: " + text);
  }
}

std::optional<asio::ip::address> SourceAddresses::Next() {
  if (addresses_.empty()) return std::nullopt;
  return addresses_[next_++ % addresses_.size()];
}

Network::Network(const std::string& host, uint16_t port, const std::string& cafile,
                 const std::vector<std::string>& bind)
    : sources(bind) {
  ConfigureClientTls(tls, cafile);
  boost::system::error_code ec;
  endpoint = tcp::endpoint(asio::ip::make_address(host, ec), port);
  if (ec) Die("--host must be an IP address: " + host);
}

awaitable<void> Event::Wait() {
  timer_.expires_at(Clock::time_point::max());
  waiting_ = true;
  co_await timer_.async_wait(asio::as_tuple(use_awaitable));
  waiting_ = false;
}

CloseAfter::CloseAfter(asio::io_context& io, Conn& conn, double seconds)
    : timer_(io, Seconds(seconds)) {
  // The handler may run after this guard is gone (already queued when cancelled): it
  // touches `conn` only while `armed_` says the guard, and so the connection, still lives.
  timer_.async_wait([&conn, armed = armed_, fired = fired_](boost::system::error_code ec) {
    if (ec || !*armed) return;
    *fired = true;
    conn.Close();
  });
}

CloseAfter::~CloseAfter() {
  *armed_ = false;
  timer_.cancel();
}

void RunUntilDone(asio::io_context& io, awaitable<void> main, const std::string& what) {
  asio::co_spawn(io, std::move(main), [&io, what](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        Die(what + ": " + e.what());
      }
    }
    io.stop();
  });
  io.run();
}

Clock::duration Seconds(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint64_t NowNs() { return static_cast<uint64_t>(Clock::now().time_since_epoch().count()); }

awaitable<void> Sleep(double seconds) { co_await SleepUntil(Clock::now() + Seconds(seconds)); }

awaitable<void> SleepUntil(Clock::time_point when) {
  asio::steady_timer timer(co_await asio::this_coro::executor, when);
  co_await timer.async_wait(use_awaitable);
}

}  // namespace mqtt_load
