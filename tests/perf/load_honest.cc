#include "load_honest.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "load_sparkplug.h"
#include "load_stats.h"
#include "load_wire.h"

namespace mqtt_load {
namespace {

constexpr double kStepTimeoutSeconds = 10;  // connect + TLS, and CONNECT to SUBACK
constexpr int kSetupConcurrency = 16;
constexpr size_t kErrorsKept = 5;

struct Client {
  int index = 0;
  std::unique_ptr<Conn> conn;
  std::unique_ptr<PublishTemplate> publish;
  Bytes outbox;  // what Flush() writes next; one write in flight at a time
  bool writing = false;
  bool up = false;  // connected and subscribed
  bool dropped = false;
  uint64_t sent = 0;
  uint64_t acked = 0;
};

class Honest {
 public:
  explicit Honest(const Options& o) : o_(o), net_(o.host, o.port, o.cafile, o.bind) {}

  int Main() {
    RunUntilDone(net_.io, RunAll(), "honest");
    std::cout << result_ << std::endl;
    return 0;
  }

 private:
  std::unique_ptr<Conn> NewConn() { return net_.NewConn(o_.tls); }
  std::string Topic(int index) const { return "honest/" + std::to_string(index); }

  void Note(std::vector<std::string>& errors, const std::string& what) {
    if (errors.size() < kErrorsKept) errors.push_back(what);
  }

  awaitable<void> RunAll() {
    co_await Setup();
    const auto ready = Clock::now();
    int up = 0;
    for (const auto& c : clients_) up += c->up ? 1 : 0;
    std::cout << "READY " << up << std::endl;
    const double offset = 1.0 / o_.rate;  // clients take turns instead of sending together
    for (auto& c : clients_) {
      if (!c->up) continue;
      Spawn(Read(*c));
      Spawn(Publish(*c, ready + Seconds(offset * c->index)));
    }
    co_await SleepUntil(ready + Seconds(o_.warmup));
    const uint64_t received_before = received_;
    const Sample start = TakeSample(o_.watches);
    recording_ = true;
    for (int k = 0; k < o_.joiners; ++k) {
      Spawn(JoinLate(k, start.when + Seconds(o_.seconds * (k + 0.5) / o_.joiners)));
    }
    co_await SleepUntil(start.when + Seconds(o_.seconds));
    const Sample end = TakeSample(o_.watches);
    recording_ = false;
    const uint64_t messages = received_ - received_before;
    publishing_ = false;
    const auto drain_until = Clock::now() + Seconds(o_.drain_seconds);
    while ((SentTotal() > received_ || joiners_pending_ > 0) && Clock::now() < drain_until) {
      co_await Sleep(0.01);
    }
    while (joiners_pending_ > 0) co_await Sleep(0.01);  // each ends within its timeouts
    closing_ = true;
    for (auto& c : clients_) c->conn->Close();
    Report(up, messages, start, end, SecondsSince(ready));
  }

  uint64_t SentTotal() const {
    uint64_t sent = 0;
    for (const auto& c : clients_) sent += c->sent;
    return sent;
  }

  // -- connecting --

  awaitable<void> Setup() {
    for (int i = 0; i < o_.clients; ++i) {
      auto c = std::make_unique<Client>();
      c->index = i;
      c->conn = NewConn();
      c->publish = std::make_unique<PublishTemplate>(Topic(i), o_.qos, o_.payload,
                                                     static_cast<uint32_t>(i), o_.sparkplug);
      clients_.push_back(std::move(c));
    }
    int next = 0, openers = 0;
    Event finished(net_.io);
    const auto deadline = Clock::now() + Seconds(o_.setup_timeout);
    auto opener = [&]() -> awaitable<void> {
      while (next < o_.clients && Clock::now() < deadline) {
        Client& c = *clients_[static_cast<size_t>(next++)];
        try {
          co_await Join(c);
          c.up = true;
        } catch (const std::exception& e) {
          ++connect_failed_;
          Note(connect_errors_, e.what());
          c.conn->Close();
        }
      }
      --openers;
      finished.Notify();
    };
    for (int i = 0; i < kSetupConcurrency; ++i) {
      ++openers;
      Spawn(opener());
    }
    asio::steady_timer give_up(net_.io, deadline);
    give_up.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      for (auto& c : clients_) {  // attempts still under way fail now
        if (!c->up) c->conn->Close();
      }
    });
    while (openers > 0) co_await finished.Wait();
    give_up.cancel();
    if (next < o_.clients) {
      connect_failed_ += o_.clients - next;
      Note(connect_errors_,
           "not tried within --setup-timeout: " + std::to_string(o_.clients - next));
    }
  }

  awaitable<void> Join(Client& c) {
    CloseAfter timeout(net_.io, *c.conn, kStepTimeoutSeconds);
    co_await c.conn->Connect(net_.endpoint, net_.sources.Next());
    if (tls_description_.empty()) tls_description_ = c.conn->TlsDescription();
    const std::string id = "honest-" + std::to_string(c.index);
    co_await c.conn->MqttConnect(id, 60, o_.username, o_.password);
    const int next = (c.index + 1) % o_.clients;
    co_await c.conn->Write(SubscribePacket(1, Topic(next), o_.qos));
    const Packet suback = co_await c.conn->ReadPacket();
    if (suback.type() != 9 || suback.size != 3 || suback.body[2] != o_.qos) {
      throw std::runtime_error("SUBSCRIBE " + Topic(next) + " not granted at QoS " +
                               std::to_string(o_.qos));
    }
  }

  // A newcomer during the window: how long until it is in, if it gets in at all.
  awaitable<void> JoinLate(int k, Clock::time_point when) {
    ++joiners_pending_;
    co_await SleepUntil(when);
    auto conn = NewConn();
    const auto start = Clock::now();
    try {
      CloseAfter timeout(net_.io, *conn, kStepTimeoutSeconds);
      co_await conn->Connect(net_.endpoint, net_.sources.Next());
      co_await conn->MqttConnect("honest-join-" + std::to_string(k), 60, o_.username, o_.password);
      joiner_seconds_.push_back(SecondsSince(start));
      static const Bytes kDisconnect = {0xe0, 0};
      co_await conn->Write(kDisconnect);
    } catch (const std::exception& e) {
      ++joiners_failed_;
      Note(joiner_errors_, e.what());
    }
    conn->Close();
    --joiners_pending_;
  }

  // -- the relay --

  awaitable<void> Read(Client& c) {
    PacketReader& reader = c.conn->reader();
    Bytes acks;
    try {
      for (;;) {
        while (auto packet = reader.Next()) {
          if (packet->type() == 4) ++c.acked;
          if (packet->type() != 3) continue;
          const Stamp stamp = packet->ReadStamp(o_.sparkplug ? kSparkplugStampAt : 0);
          if (stamp.qos > 0) {
            acks.insert(acks.end(), {0x40, 2, static_cast<uint8_t>(stamp.packet_id >> 8),
                                     static_cast<uint8_t>(stamp.packet_id)});
          }
          if (stamp.publisher >= clients_.size()) throw std::runtime_error("PUBLISH from nowhere");
          ++received_;
          if (recording_) {
            latencies_ns_.push_back(
                static_cast<uint32_t>(std::min<uint64_t>(NowNs() - stamp.sent_at_ns, UINT32_MAX)));
          }
        }
        if (!acks.empty()) Send(c, acks);
        acks.clear();
        const size_t n = co_await c.conn->ReadSome(reader.Prepare(65536));
        reader.Commit(n);
      }
    } catch (const std::exception& e) {
      Drop(c, e.what());
    }
  }

  // Message k is due at start + k / rate and is stamped when it is queued, so a client
  // held up by the proxy sees its backlog as latency (no coordinated omission).
  awaitable<void> Publish(Client& c, Clock::time_point start) {
    const double rate = o_.rate / o_.clients;
    asio::steady_timer timer(net_.io);
    Bytes out;
    uint16_t packet_id = 0;
    while (publishing_ && !c.dropped) {
      const auto due = static_cast<uint64_t>(std::max(0.0, SecondsSince(start)) * rate) + 1;
      out.clear();
      for (; c.sent < due; ++c.sent) {
        if (++packet_id == 0) packet_id = 1;
        c.publish->AppendTo(out, packet_id, static_cast<uint32_t>(c.sent), o_.qos);
      }
      Send(c, out);
      timer.expires_at(start + Seconds(static_cast<double>(c.sent) / rate));
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
    }
  }

  void Send(Client& c, const Bytes& bytes) {
    if (c.dropped || bytes.empty()) return;
    c.outbox.insert(c.outbox.end(), bytes.begin(), bytes.end());
    if (c.writing) return;
    c.writing = true;
    Spawn(Flush(c));
  }

  awaitable<void> Flush(Client& c) {
    Bytes writing;
    try {
      while (!c.outbox.empty() && !c.dropped) {
        writing.swap(c.outbox);
        co_await c.conn->Write(writing);
        writing.clear();
      }
    } catch (const std::exception& e) {
      Drop(c, e.what());
    }
    c.writing = false;
  }

  void Drop(Client& c, const std::string& why) {
    if (closing_ || c.dropped) return;
    c.dropped = true;
    ++dropped_;
    Note(drop_errors_, Topic(c.index) + ": " + why);
    c.conn->Close();
  }

  template <typename Awaitable>
  void Spawn(Awaitable body) {
    SpawnOrDie(net_.io, std::move(body), "honest");
  }

  void Report(int up, uint64_t messages, const Sample& start, const Sample& end,
              double since_ready) {
    auto strings = [](const std::vector<std::string>& errors) {
      std::string list = "[";
      for (const auto& e : errors) {
        std::string quoted;
        for (char ch : e) quoted += (ch == '"' || ch == '\\') ? '\'' : ch;
        list += (list.size() > 1 ? ", \"" : "\"") + quoted + "\"";
      }
      return list + "]";
    };
    std::sort(joiner_seconds_.begin(), joiner_seconds_.end());
    const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
    uint64_t acked = 0;
    for (const auto& c : clients_) acked += c->acked;
    Json json;
    json.Add("mode", o_.mode).Add("tls", tls_description_).Add("qos", o_.qos);
    json.Add("clients", o_.clients).Add("clients_up", up).Add("connect_failed", connect_failed_);
    json.Raw("connect_errors", strings(connect_errors_));
    json.Add("rate", o_.rate).Add("payload", static_cast<double>(o_.payload));
    json.Add("messages", static_cast<double>(messages))
        .Add("msgs_per_s", elapsed > 0 ? static_cast<double>(messages) / elapsed : 0);
    json.Add("sent_total", static_cast<double>(SentTotal()))
        .Add("received_total", static_cast<double>(received_))
        .Add("undelivered", static_cast<double>(SentTotal() - std::min(SentTotal(), received_)))
        .Add("acked_total", static_cast<double>(acked));
    json.Add("dropped", dropped_).Raw("drop_errors", strings(drop_errors_));
    json.Add("seconds_since_ready", since_ready);
    AddLatencies(json, latencies_ns_);
    json.Add("joiners", o_.joiners)
        .Add("joiners_ok", static_cast<double>(joiner_seconds_.size()))
        .Add("joiners_failed", joiners_failed_)
        .Raw("joiner_errors", strings(joiner_errors_))
        .Add("joiner_p50_s",
             joiner_seconds_.empty() ? -1 : joiner_seconds_[joiner_seconds_.size() / 2])
        .Add("joiner_max_s", joiner_seconds_.empty() ? -1 : joiner_seconds_.back());
    AddWindow(json, o_.watches, start, end);
    result_ = json.Done();
  }

  const Options o_;
  Network net_;
  std::string result_;
  std::string tls_description_;
  std::vector<std::unique_ptr<Client>> clients_;
  bool publishing_ = true;
  bool recording_ = false;
  bool closing_ = false;
  uint64_t received_ = 0;
  std::vector<uint32_t> latencies_ns_;
  int connect_failed_ = 0;
  int dropped_ = 0;
  int joiners_pending_ = 0;
  int joiners_failed_ = 0;
  std::vector<double> joiner_seconds_;
  std::vector<std::string> connect_errors_, drop_errors_, joiner_errors_;
};

}  // namespace

int RunHonest(const Options& options) {
  Honest honest(options);
  return honest.Main();
}

}  // namespace mqtt_load
