// mqtt_load: the MQTT 3.1.1 load generator behind tests/perf/run_benchmark.sh and
// run_hostile_benchmark.sh.
//
// One thread, one io_context, so it can be pinned to one core and its own CPU use is
// reported next to the results (a saturated generator would make every proxy look
// alike). Packets are encoded by hand (load_wire.h).
//
//   subscriber <-- broker <-- publishers        (throughput, latency)
//        \___________ proxy? ____________/      every connection goes to --host:--port
//
// Modes (each prints one JSON object on stdout at the end):
//   throughput --qos 0|1 --publishers N --seconds S   messages/s received by 1 subscriber
//   latency --rate R --seconds S                      QoS 0 at a fixed rate; p50/p99
//   idle --connections N --hold-seconds S             N CONNACKed connections, held
//   handshakes --seconds S --concurrency C            connect + CONNECT/CONNACK + close
//   honest --clients N --rate R --seconds S           N clients publishing and subscribing
//                                                     at R msg/s in all; p99, drops (load_honest.h)
//   attack --seconds S                                the hostile mix from one address
//                                                     (load_attack.h)
// Common: --host H --port P [--tls [--cafile F]] [--bind A[,B...]] [--warmup S]
// [--watch NAME=PID]... A watched process has its CPU time (utime+stime, /proc/PID/stat)
// measured over the timed window, and its RSS (/proc/PID/status) before and after.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "load_attack.h"
#include "load_honest.h"
#include "load_options.h"
#include "load_sparkplug.h"
#include "load_stats.h"
#include "load_wire.h"

namespace mqtt_load {
namespace {

// ---- The run ----------------------------------------------------------------------

class Run {
 public:
  explicit Run(const Options& o) : o_(o), net_(o.host, o.port, o.cafile, o.bind) {}

  int Main() {
    RunUntilDone(net_.io, Dispatch(), o_.mode);
    std::cout << result_ << std::endl;
    return 0;
  }

 private:
  std::unique_ptr<Conn> NewConn() { return net_.NewConn(o_.tls); }

  // Runs `body` detached; an exception there ends the whole run unless `stopping_`.
  template <typename Awaitable>
  void Spawn(Awaitable body) {
    SpawnOrDie(net_.io, std::move(body), o_.mode, &stopping_);
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
    co_await subscriber->Connect(net_.endpoint, net_.sources.Next());
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
      co_await p.conn->Connect(net_.endpoint, net_.sources.Next());
      co_await p.conn->MqttConnect("bench-pub-" + std::to_string(i));
      p.publish = std::make_unique<PublishTemplate>("bench/p" + std::to_string(i), qos, o_.payload,
                                                    static_cast<uint32_t>(i), o_.sparkplug);
      p.event = std::make_unique<Event>(net_.io);
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
    const Sample start = TakeSample(o_.watches);
    recording_ = latency;
    co_await Sleep(o_.seconds);
    const Sample end = TakeSample(o_.watches);
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
      AddLatencies(json, latencies_ns_);
    }
    AddWindow(json, o_.watches, start, end);
    result_ = json.Done();
  }

  // One subscriber receives everything; QoS 1 deliveries are PUBACKed in one write per read.
  awaitable<void> Subscribe(Conn& conn) {
    Bytes acks;
    PacketReader& reader = conn.reader();
    for (;;) {
      const size_t n = co_await conn.ReadSome(reader.Prepare(65536));
      reader.Commit(n);
      const uint64_t now = NowNs();
      acks.clear();
      while (auto packet = reader.Next()) {
        if (packet->type() != 3) continue;
        const Stamp stamp = packet->ReadStamp(o_.sparkplug ? kSparkplugStampAt : 0);
        if (stamp.qos > 0) {
          acks.insert(acks.end(), {0x40, 2, static_cast<uint8_t>(stamp.packet_id >> 8),
                                   static_cast<uint8_t>(stamp.packet_id)});
        }
        if (stamp.publisher >= publishers_.size()) {
          throw std::runtime_error("PUBLISH from nowhere");
        }
        ++publishers_[stamp.publisher].received;
        ++received_;
        if (recording_)
          latencies_ns_.push_back(
              static_cast<uint32_t>(std::min<uint64_t>(now - stamp.sent_at_ns, UINT32_MAX)));
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
    asio::steady_timer timer(net_.io);
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
    const Sample before = TakeSample(o_.watches);
    const int concurrency = o_.concurrency > 0 ? o_.concurrency : 64;
    std::vector<std::unique_ptr<Conn>> conns(static_cast<size_t>(o_.connections));
    int next = 0, done = 0, openers = 0;
    Event finished(net_.io);
    auto opener = [&]() -> awaitable<void> {
      while (next < o_.connections) {
        const int i = next++;
        auto conn = NewConn();
        co_await conn->Connect(net_.endpoint, net_.sources.Next());
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
    const Sample after = TakeSample(o_.watches);
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
    AddWindow(json, o_.watches, before, after);
    result_ = json.Done();
  }

  // -- handshakes --

  awaitable<void> Handshakes() {
    const int concurrency = o_.concurrency > 0 ? o_.concurrency : 8;
    for (int i = 0; i < concurrency; ++i) Spawn(HandshakeLoop(i));
    co_await Sleep(o_.warmup);
    const uint64_t before = handshakes_;
    const Sample start = TakeSample(o_.watches);
    co_await Sleep(o_.seconds);
    const Sample end = TakeSample(o_.watches);
    const uint64_t count = handshakes_ - before;
    stopping_ = true;
    const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
    Json json;
    json.Add("mode", o_.mode).Add("tls", tls_description_).Add("concurrency", concurrency);
    json.Add("handshakes", static_cast<double>(count)).Add("handshakes_per_s", count / elapsed);
    json.Add("errors", static_cast<double>(handshake_errors_));
    AddWindow(json, o_.watches, start, end);
    result_ = json.Done();
  }

  awaitable<void> HandshakeLoop(int loop) {
    static const Bytes kDisconnect = {0xe0, 0};
    for (uint64_t n = 0; !stopping_; ++n) {
      auto conn = NewConn();
      try {
        co_await conn->Connect(net_.endpoint, net_.sources.Next());
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
  Network net_;
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
}  // namespace mqtt_load

int main(int argc, char** argv) {
  const mqtt_load::Options options = mqtt_load::Parse(argc, argv);
  if (options.mode == "honest") return mqtt_load::RunHonest(options);
  if (options.mode == "attack") return mqtt_load::RunAttack(options);
  mqtt_load::Run run(options);
  return run.Main();
}
