// mqtt_load: the MQTT 3.1.1 load generator behind tests/perf/run_benchmark.sh.
//
// One thread, one io_context, so it can be pinned to one core and its own CPU use is
// reported next to the results (a saturated generator would make every proxy look
// alike). Packets are encoded by hand: the generator must not share a bug with the
// codec of the proxy it measures.
//
//   subscriber <-- broker <-- publishers        (throughput, latency)
//        \___________ proxy? ____________/      every connection goes to --host:--port
//
// Modes (each prints one JSON object on stdout at the end):
//   throughput --qos 0|1 --publishers N --seconds S   messages/s received by 1 subscriber
//   latency --rate R --seconds S                      QoS 0 at a fixed rate; p50/p99
//   idle --connections N --hold-seconds S             N CONNACKed connections, held
//   handshakes --seconds S --concurrency C            connect + CONNECT/CONNACK + close
// Common: --host H --port P [--tls [--cafile F]] [--warmup S] [--watch NAME=PID]...
// A watched process has its CPU time (utime+stime, /proc/PID/stat) measured over the
// timed window, and its RSS (/proc/PID/status) before and after (idle mode).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "mqtt_load: " << message << "\n";
  std::exit(2);
}

// ---- Options ----------------------------------------------------------------------

struct Watch {
  std::string name;
  int pid = 0;
};

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  bool tls = false;
  std::string cafile;
  int qos = 0;
  int publishers = 4;
  double seconds = 10;
  double warmup = 1;
  size_t payload = 64;
  double rate = 2000;
  int connections = 9000;
  double hold_seconds = 2;
  double settle_seconds = 1;
  int concurrency = 0;  // 0: the mode's default
  int window = 2000;    // throughput: messages sent but not yet received, all publishers
  int inflight = 64;    // throughput QoS 1: un-PUBACKed PUBLISHes per publisher
  int batch = 64;       // throughput: PUBLISHes per write
  std::vector<Watch> watches;
};

Options Parse(int argc, char** argv) {
  Options o;
  if (argc < 2) Die("usage: mqtt_load throughput|latency|idle|handshakes [--options]");
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--tls") {
      o.tls = true;
      continue;
    }
    if (i + 1 >= argc) Die(key + " needs a value");
    const std::string value = argv[++i];
    auto integer = [&](auto& field) {
      field = static_cast<std::remove_reference_t<decltype(field)>>(std::stol(value));
    };
    auto real = [&](double& field) { field = std::stod(value); };
    try {
      // clang-format off
      if (key == "--host") o.host = value;
      else if (key == "--port") integer(o.port);
      else if (key == "--cafile") o.cafile = value;
      else if (key == "--qos") integer(o.qos);
      else if (key == "--publishers") integer(o.publishers);
      else if (key == "--seconds") real(o.seconds);
      else if (key == "--warmup") real(o.warmup);
      else if (key == "--payload") integer(o.payload);
      else if (key == "--rate") real(o.rate);
      else if (key == "--connections") integer(o.connections);
      else if (key == "--hold-seconds") real(o.hold_seconds);
      else if (key == "--settle-seconds") real(o.settle_seconds);
      else if (key == "--concurrency") integer(o.concurrency);
      else if (key == "--window") integer(o.window);
      else if (key == "--inflight") integer(o.inflight);
      else if (key == "--batch") integer(o.batch);
      // clang-format on
      else if (key == "--watch") {
        const auto eq = value.find('=');
        if (eq == std::string::npos) Die("--watch wants NAME=PID");
        o.watches.push_back({value.substr(0, eq), std::stoi(value.substr(eq + 1))});
      } else {
        Die("unknown option " + key);
      }
    } catch (const std::logic_error&) {
      Die("bad value for " + key + ": " + value);
    }
  }
  if (o.qos != 0 && o.qos != 1) Die("--qos must be 0 or 1");
  if (o.payload < 16) Die("--payload must be at least 16 (it carries a timestamp)");
  if (o.publishers < 1 || o.window < o.publishers || o.inflight < 1 || o.batch < 1) {
    Die("--publishers, --window, --inflight and --batch must be positive");
  }
  return o;
}

// ---- /proc ------------------------------------------------------------------------

double CpuSeconds(int pid) {  // utime + stime of every thread of the process
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {  // field 3 is the state
    if (index == 14) utime = std::stoull(field);
    if (index == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long RssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// CPU time of the whole machine (every core, all but idle and iowait): what neither the
// watched processes nor the generator used was taken by someone else during the run.
double MachineCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  unsigned long long value = 0, busy = 0;
  for (int i = 0; i < 8 && in >> value; ++i) {
    if (i != 3 && i != 4) busy += value;  // idle, iowait
  }
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A snapshot of the watched processes and of the generator itself.
struct Sample {
  Clock::time_point when;
  double machine_cpu = 0;
  double self_cpu = 0;
  std::vector<double> cpu;
  std::vector<long> rss_kb;
};

Sample TakeSample(const Options& o) {
  Sample s;
  s.when = Clock::now();
  s.self_cpu = SelfCpuSeconds();
  s.machine_cpu = MachineCpuSeconds();
  for (const auto& w : o.watches) {
    s.cpu.push_back(CpuSeconds(w.pid));
    s.rss_kb.push_back(RssKb(w.pid));
  }
  return s;
}

// ---- MQTT 3.1.1 encoding ----------------------------------------------------------

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

Bytes ConnectPacket(std::string_view client_id, uint16_t keep_alive) {
  Bytes body;
  PutString(body, "MQTT");
  body.push_back(4);     // protocol level 3.1.1
  body.push_back(0x02);  // clean session
  PutU16(body, keep_alive);
  PutString(body, client_id);
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

// A PUBLISH whose payload starts with [send time ns: 8][publisher: 4][sequence: 4],
// patched in place for every message; `id_offset` locates the packet id (QoS 1).
struct PublishTemplate {
  Bytes bytes;
  size_t id_offset = 0;
  size_t payload_offset = 0;

  PublishTemplate(std::string_view topic, int qos, size_t payload_size, uint32_t publisher) {
    Bytes body;
    PutString(body, topic);
    const size_t id_at = body.size();
    if (qos > 0) PutU16(body, 1);
    const size_t payload_at = body.size();
    body.resize(body.size() + payload_size, 'x');
    std::memcpy(body.data() + payload_at + 8, &publisher, 4);
    PutPacket(bytes, static_cast<uint8_t>(0x30 | (qos << 1)), body);
    const size_t header_size = bytes.size() - body.size();
    id_offset = header_size + id_at;
    payload_offset = header_size + payload_at;
  }

  void AppendTo(Bytes& out, uint16_t packet_id, uint32_t sequence, int qos) const {
    const size_t at = out.size();
    out.insert(out.end(), bytes.begin(), bytes.end());
    uint8_t* p = out.data() + at;
    if (qos > 0) {
      p[id_offset] = static_cast<uint8_t>(packet_id >> 8);
      p[id_offset + 1] = static_cast<uint8_t>(packet_id);
    }
    const uint64_t now = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
    std::memcpy(p + payload_offset, &now, 8);
    std::memcpy(p + payload_offset + 12, &sequence, 4);
  }
};

// ---- MQTT framing -----------------------------------------------------------------

struct Packet {
  uint8_t header = 0;
  const uint8_t* body = nullptr;
  size_t size = 0;
  int type() const { return header >> 4; }
};

class PacketReader {
 public:
  asio::mutable_buffer Prepare(size_t n) {
    if (begin_ == end_) begin_ = end_ = 0;
    if (begin_ > 0 && buffer_.size() - end_ < n) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < n) buffer_.resize(end_ + n);
    return {buffer_.data() + end_, n};
  }
  void Commit(size_t n) { end_ += n; }

  // The next whole packet, if one is buffered. Valid until the next Prepare().
  std::optional<Packet> Next() {
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

 private:
  Bytes buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// ---- Connections ------------------------------------------------------------------

class Conn {
 public:
  Conn(asio::io_context& io, ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(io, *tls);
    } else {
      plain_.emplace(io);
    }
  }

  tcp::socket& Socket() { return tls_ ? tls_->next_layer() : *plain_; }

  awaitable<void> Connect(const tcp::endpoint& endpoint) {
    co_await Socket().async_connect(endpoint, use_awaitable);
    Socket().set_option(tcp::no_delay(true));
    if (tls_) co_await tls_->async_handshake(ssl::stream_base::client, use_awaitable);
  }

  awaitable<size_t> ReadSome(asio::mutable_buffer buffer) {
    if (tls_) co_return co_await tls_->async_read_some(buffer, use_awaitable);
    co_return co_await plain_->async_read_some(buffer, use_awaitable);
  }

  awaitable<void> Write(const Bytes& bytes) {
    if (tls_) {
      co_await asio::async_write(*tls_, asio::buffer(bytes), use_awaitable);
    } else {
      co_await asio::async_write(*plain_, asio::buffer(bytes), use_awaitable);
    }
  }

  // Reads until one whole packet is buffered and returns it.
  awaitable<Packet> ReadPacket() {
    for (;;) {
      if (auto packet = reader_.Next()) co_return *packet;
      const size_t n = co_await ReadSome(reader_.Prepare(16384));
      reader_.Commit(n);
    }
  }

  // CONNECT, then CONNACK with return code 0 or an exception.
  awaitable<void> MqttConnect(std::string_view client_id, uint16_t keep_alive = 600) {
    co_await Write(ConnectPacket(client_id, keep_alive));
    const Packet connack = co_await ReadPacket();
    if (connack.type() != 2 || connack.size != 2 || connack.body[1] != 0) {
      throw std::runtime_error("no CONNACK 0 for " + std::string(client_id));
    }
  }

  std::string TlsDescription() {
    if (!tls_) return "plain";
    return std::string(SSL_get_version(tls_->native_handle())) + " " +
           SSL_get_cipher_name(tls_->native_handle());
  }

  void Close() {
    boost::system::error_code ignored;
    Socket().close(ignored);
  }

  PacketReader& reader() { return reader_; }

 private:
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::optional<tcp::socket> plain_;
  PacketReader reader_;
};

// A level-triggered wake-up for coroutines on one thread: the waiter re-checks its
// condition after every wake, so a Notify() with nobody waiting is simply not needed.
class Event {
 public:
  explicit Event(asio::io_context& io) : timer_(io) {}
  awaitable<void> Wait() {
    timer_.expires_at(Clock::time_point::max());
    waiting_ = true;
    co_await timer_.async_wait(asio::as_tuple(use_awaitable));
    waiting_ = false;
  }
  void Notify() {
    if (waiting_) timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  bool waiting_ = false;
};

awaitable<void> Sleep(double seconds) {
  asio::steady_timer timer(
      co_await asio::this_coro::executor,
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  co_await timer.async_wait(use_awaitable);
}

// ---- Output -----------------------------------------------------------------------

class Json {
 public:
  Json& Add(const std::string& key, double value) {
    char text[64];
    std::snprintf(text, sizeof(text), "%.6g", value);
    return Raw(key, text);
  }
  Json& Add(const std::string& key, const std::string& value) {
    return Raw(key, "\"" + value + "\"");
  }
  Json& Raw(const std::string& key, const std::string& value) {
    text_ += (text_.empty() ? "{" : ", ") + ("\"" + key + "\": ") + value;
    return *this;
  }
  std::string Done() const { return text_.empty() ? "{}" : text_ + "}"; }

 private:
  std::string text_;
};

void AddWindow(Json& json, const Options& o, const Sample& start, const Sample& end) {
  const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
  json.Add("elapsed_s", elapsed).Add("generator_cpu_s", end.self_cpu - start.self_cpu);
  double others = (end.machine_cpu - start.machine_cpu) - (end.self_cpu - start.self_cpu);
  Json watched;
  for (size_t i = 0; i < o.watches.size(); ++i) {
    others -= end.cpu[i] - start.cpu[i];
    Json w;
    w.Add("pid", o.watches[i].pid)
        .Add("cpu_s", end.cpu[i] - start.cpu[i])
        .Add("rss_before_kb", static_cast<double>(start.rss_kb[i]))
        .Add("rss_after_kb", static_cast<double>(end.rss_kb[i]));
    watched.Raw(o.watches[i].name, w.Done());
  }
  json.Raw("watch", watched.Done());
  json.Add("others_cpu_s", std::max(0.0, others));
}

// ---- The run ----------------------------------------------------------------------

class Run {
 public:
  explicit Run(const Options& o) : o_(o), io_(1), tls_(ssl::context::tls_client) {
    if (o_.tls) {
      tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3);
      // Every connection is a full handshake: no session is ever offered for resumption.
      SSL_CTX_set_session_cache_mode(tls_.native_handle(), SSL_SESS_CACHE_OFF);
      SSL_CTX_set_options(tls_.native_handle(), SSL_OP_NO_TICKET);
      if (!o_.cafile.empty()) {
        tls_.load_verify_file(o_.cafile);
        tls_.set_verify_mode(ssl::verify_peer);
      } else {
        tls_.set_verify_mode(ssl::verify_none);
      }
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(o_.host, ec);
    if (ec) Die("--host must be an IP address: " + o_.host);
    endpoint_ = tcp::endpoint(address, o_.port);
  }

  int Main() {
    asio::co_spawn(io_, Dispatch(), [this](std::exception_ptr error) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          Die(std::string(o_.mode) + ": " + e.what());
        }
      }
      io_.stop();
    });
    io_.run();
    std::cout << result_ << std::endl;
    return 0;
  }

 private:
  std::unique_ptr<Conn> NewConn() { return std::make_unique<Conn>(io_, o_.tls ? &tls_ : nullptr); }

  // Runs `body` detached; an exception there ends the whole run unless `stopping_`.
  template <typename Awaitable>
  void Spawn(Awaitable body) {
    asio::co_spawn(io_, std::move(body), [this](std::exception_ptr error) {
      if (!error || stopping_) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        Die(o_.mode + ": " + e.what());
      }
    });
  }

  awaitable<void> Dispatch() {
    if (o_.mode == "throughput") co_return co_await Throughput(false);
    if (o_.mode == "latency") co_return co_await Throughput(true);
    if (o_.mode == "idle") co_return co_await Idle();
    if (o_.mode == "handshakes") co_return co_await Handshakes();
    Die("unknown mode " + o_.mode);
  }

  // -- throughput and latency --

  struct Publisher {
    std::unique_ptr<Conn> conn;
    std::unique_ptr<PublishTemplate> publish;
    std::unique_ptr<Event> event;
    uint64_t sent = 0;
    uint64_t received = 0;  // by the subscriber
    uint64_t acked = 0;     // PUBACKs from the broker (QoS 1)
  };

  awaitable<void> Throughput(bool latency) {
    const int qos = latency ? 0 : o_.qos;
    const int publishers = latency ? std::max(1, o_.publishers) : o_.publishers;
    auto subscriber = NewConn();
    co_await subscriber->Connect(endpoint_);
    co_await subscriber->MqttConnect("bench-sub");
    co_await subscriber->Write(SubscribePacket(1, "bench/#", qos));
    const Packet suback = co_await subscriber->ReadPacket();
    if (suback.type() != 9 || suback.size != 3 || suback.body[2] != qos) {
      throw std::runtime_error("SUBACK did not grant the requested QoS");
    }
    tls_description_ = subscriber->TlsDescription();
    for (int i = 0; i < publishers; ++i) {
      Publisher p;
      p.conn = NewConn();
      co_await p.conn->Connect(endpoint_);
      co_await p.conn->MqttConnect("bench-pub-" + std::to_string(i));
      p.publish = std::make_unique<PublishTemplate>("bench/p" + std::to_string(i), qos, o_.payload,
                                                    static_cast<uint32_t>(i));
      p.event = std::make_unique<Event>(io_);
      publishers_.push_back(std::move(p));
    }
    Spawn(Subscribe(*subscriber));
    for (size_t i = 0; i < publishers_.size(); ++i) {
      if (latency) {
        Spawn(PublishAtRate(publishers_[i], o_.rate / publishers));
      } else {
        Spawn(PublishFlat(publishers_[i], qos));
        if (qos == 1) Spawn(ReadPubacks(publishers_[i]));
      }
    }
    co_await Sleep(o_.warmup);
    const uint64_t received_before = received_;
    const Sample start = TakeSample(o_);
    recording_ = latency;
    co_await Sleep(o_.seconds);
    const Sample end = TakeSample(o_);
    recording_ = false;
    const uint64_t messages = received_ - received_before;
    stopping_ = true;
    uint64_t sent = 0;
    for (auto& p : publishers_) {
      sent += p.sent;
      p.conn->Close();
    }
    subscriber->Close();

    Json json;
    json.Add("mode", o_.mode).Add("tls", tls_description_).Add("qos", qos);
    json.Add("publishers", publishers).Add("payload", static_cast<double>(o_.payload));
    const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
    json.Add("messages", static_cast<double>(messages)).Add("msgs_per_s", messages / elapsed);
    json.Add("sent_total", static_cast<double>(sent))
        .Add("received_total", static_cast<double>(received_));
    if (latency) {
      json.Add("rate", o_.rate);
      std::sort(latencies_ns_.begin(), latencies_ns_.end());
      auto at = [&](double q) {
        if (latencies_ns_.empty()) return -1.0;
        const size_t i =
            std::min(latencies_ns_.size() - 1,
                     static_cast<size_t>(q * static_cast<double>(latencies_ns_.size())));
        return latencies_ns_[i] / 1000.0;
      };
      json.Add("samples", static_cast<double>(latencies_ns_.size()))
          .Add("p50_us", at(0.50))
          .Add("p90_us", at(0.90))
          .Add("p99_us", at(0.99))
          .Add("p999_us", at(0.999))
          .Add("max_us", at(1.0));
    }
    AddWindow(json, o_, start, end);
    result_ = json.Done();
  }

  // One subscriber receives everything; QoS 1 deliveries are PUBACKed in one write per read.
  awaitable<void> Subscribe(Conn& conn) {
    Bytes acks;
    PacketReader& reader = conn.reader();
    for (;;) {
      const size_t n = co_await conn.ReadSome(reader.Prepare(65536));
      reader.Commit(n);
      const uint64_t now = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
      acks.clear();
      while (auto packet = reader.Next()) {
        if (packet->type() != 3) continue;
        const uint8_t* p = packet->body;
        size_t offset = 2 + ((p[0] << 8) | p[1]);
        const int packet_qos = (packet->header >> 1) & 3;
        if (packet_qos > 0) {
          acks.insert(acks.end(), {0x40, 2, p[offset], p[offset + 1]});
          offset += 2;
        }
        if (packet->size < offset + 16) throw std::runtime_error("short PUBLISH payload");
        uint64_t sent_at;
        uint32_t publisher;
        std::memcpy(&sent_at, p + offset, 8);
        std::memcpy(&publisher, p + offset + 8, 4);
        if (publisher >= publishers_.size()) throw std::runtime_error("PUBLISH from nowhere");
        ++publishers_[publisher].received;
        ++received_;
        if (recording_)
          latencies_ns_.push_back(
              static_cast<uint32_t>(std::min<uint64_t>(now - sent_at, UINT32_MAX)));
      }
      for (auto& p : publishers_) p.event->Notify();
      if (!acks.empty()) co_await conn.Write(acks);
    }
  }

  // As fast as the windows allow: at most window/N messages of this publisher between
  // sending and arriving at the subscriber (so the broker never has to drop or queue
  // without bound), at most `inflight` un-PUBACKed ones for QoS 1.
  awaitable<void> PublishFlat(Publisher& p, int qos) {
    const uint64_t window = static_cast<uint64_t>(o_.window) / publishers_.size();
    const uint64_t inflight = static_cast<uint64_t>(o_.inflight);
    const uint64_t limit = qos > 0 ? std::min(window, inflight) : window;
    // Wait for room for a quarter of the window, so each write carries many PUBLISHes.
    const uint64_t low_water =
        std::max<uint64_t>(1, std::min<uint64_t>(static_cast<uint64_t>(o_.batch), limit / 4));
    Bytes out;
    uint16_t packet_id = 0;
    while (!stopping_) {
      uint64_t room = window - std::min(window, p.sent - p.received);
      if (qos > 0) room = std::min(room, inflight - std::min(inflight, p.sent - p.acked));
      if (room < low_water) {
        co_await p.event->Wait();
        continue;
      }
      const uint64_t n = std::min<uint64_t>(room, static_cast<uint64_t>(o_.batch));
      out.clear();
      for (uint64_t i = 0; i < n; ++i) {
        if (++packet_id == 0) packet_id = 1;
        p.publish->AppendTo(out, packet_id, static_cast<uint32_t>(p.sent + i), qos);
      }
      p.sent += n;
      co_await p.conn->Write(out);
    }
  }

  awaitable<void> ReadPubacks(Publisher& p) {
    PacketReader& reader = p.conn->reader();
    for (;;) {
      const size_t n = co_await p.conn->ReadSome(reader.Prepare(16384));
      reader.Commit(n);
      while (auto packet = reader.Next()) {
        if (packet->type() == 4) ++p.acked;
      }
      p.event->Notify();
    }
  }

  // Sends on a schedule: message k is due at start + k / rate and carries the time it
  // actually left, so a late send shows up as latency only from then on.
  awaitable<void> PublishAtRate(Publisher& p, double rate) {
    asio::steady_timer timer(io_);
    const auto start = Clock::now();
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    Bytes out;
    while (!stopping_) {
      const auto now = Clock::now();
      const auto due =
          static_cast<uint64_t>(std::chrono::duration<double>(now - start).count() * rate) + 1;
      out.clear();
      for (; p.sent < due; ++p.sent) {
        p.publish->AppendTo(out, 0, static_cast<uint32_t>(p.sent), 0);
      }
      if (!out.empty()) co_await p.conn->Write(out);
      timer.expires_at(start + std::chrono::duration_cast<Clock::duration>(
                                   interval * static_cast<double>(p.sent)));
      co_await timer.async_wait(use_awaitable);
    }
  }

  // -- idle --

  awaitable<void> Idle() {
    const Sample before = TakeSample(o_);
    const int concurrency = o_.concurrency > 0 ? o_.concurrency : 64;
    std::vector<std::unique_ptr<Conn>> conns(static_cast<size_t>(o_.connections));
    int next = 0, done = 0, openers = 0;
    Event finished(io_);
    auto opener = [&]() -> awaitable<void> {
      while (next < o_.connections) {
        const int i = next++;
        auto conn = NewConn();
        co_await conn->Connect(endpoint_);
        co_await conn->MqttConnect("idle-" + std::to_string(i));
        if (i == 0) tls_description_ = conn->TlsDescription();
        conns[static_cast<size_t>(i)] = std::move(conn);
        ++done;
      }
      --openers;
      finished.Notify();
    };
    const auto setup_start = Clock::now();
    for (int i = 0; i < concurrency; ++i) {
      ++openers;
      Spawn(opener());
    }
    while (openers > 0) co_await finished.Wait();
    const double setup = std::chrono::duration<double>(Clock::now() - setup_start).count();
    std::cout << "READY " << done << std::endl;
    co_await Sleep(o_.settle_seconds);
    const Sample after = TakeSample(o_);
    co_await Sleep(std::max(0.0, o_.hold_seconds - o_.settle_seconds));
    stopping_ = true;
    for (auto& conn : conns) {
      if (conn) conn->Close();
    }

    Json json;
    json.Add("mode", o_.mode).Add("tls", tls_description_);
    json.Add("connections", done).Add("setup_s", setup).Add("setup_per_s", done / setup);
    Json per_connection;
    for (size_t i = 0; i < o_.watches.size(); ++i) {
      per_connection.Add(o_.watches[i].name,
                         1024.0 * static_cast<double>(after.rss_kb[i] - before.rss_kb[i]) / done);
    }
    json.Raw("bytes_per_connection", per_connection.Done());
    AddWindow(json, o_, before, after);
    result_ = json.Done();
  }

  // -- handshakes --

  awaitable<void> Handshakes() {
    const int concurrency = o_.concurrency > 0 ? o_.concurrency : 8;
    for (int i = 0; i < concurrency; ++i) Spawn(HandshakeLoop(i));
    co_await Sleep(o_.warmup);
    const uint64_t before = handshakes_;
    const Sample start = TakeSample(o_);
    co_await Sleep(o_.seconds);
    const Sample end = TakeSample(o_);
    const uint64_t count = handshakes_ - before;
    stopping_ = true;
    const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
    Json json;
    json.Add("mode", o_.mode).Add("tls", tls_description_).Add("concurrency", concurrency);
    json.Add("handshakes", static_cast<double>(count)).Add("handshakes_per_s", count / elapsed);
    json.Add("errors", static_cast<double>(handshake_errors_));
    AddWindow(json, o_, start, end);
    result_ = json.Done();
  }

  awaitable<void> HandshakeLoop(int loop) {
    static const Bytes kDisconnect = {0xe0, 0};
    for (uint64_t n = 0; !stopping_; ++n) {
      auto conn = NewConn();
      try {
        co_await conn->Connect(endpoint_);
        co_await conn->MqttConnect("hs-" + std::to_string(loop) + "-" + std::to_string(n));
        if (tls_description_.empty()) tls_description_ = conn->TlsDescription();
        co_await conn->Write(kDisconnect);
        ++handshakes_;
      } catch (const std::exception& e) {
        if (stopping_) break;
        if (++handshake_errors_ <= 5) std::cerr << "mqtt_load: handshake: " << e.what() << "\n";
        if (handshake_errors_ > 1000) Die("too many handshake errors");
      }
      conn->Close();
    }
  }

  const Options o_;
  asio::io_context io_;
  ssl::context tls_;
  tcp::endpoint endpoint_;
  std::string result_;
  std::string tls_description_;
  bool stopping_ = false;
  bool recording_ = false;
  std::vector<Publisher> publishers_;
  uint64_t received_ = 0;
  std::vector<uint32_t> latencies_ns_;
  uint64_t handshakes_ = 0;
  uint64_t handshake_errors_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  Run run(options);
  return run.Main();
}
