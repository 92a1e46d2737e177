// When a silent client is cut off: after one and a half times its keep-alive without a
// packet [MQTT-3.1.2-24]. Sans-IO: the relay passes the time in, so the rule is tested
// without a clock, and the relay only turns Deadline() into a timer.
#pragma once

#include <chrono>
#include <optional>

namespace moat::proxy {

using SteadyTime = std::chrono::steady_clock::time_point;

// Where the relay gets the time; tests give it their own.
class Clock {
 public:
  virtual SteadyTime Now() const = 0;

 protected:
  ~Clock() = default;
};
const Clock& SteadyClock();

class KeepAlive {
 public:
  // 0 turns keep-alive off [MQTT-3.1.2-22].
  KeepAlive(std::chrono::seconds interval, SteadyTime now) : interval_(interval), heard_(now) {}

  // The broker's CONNACK named another one (Server Keep Alive): the client must follow
  // it, so moat enforces it [MQTT-3.2.2-21].
  void set_interval(std::chrono::seconds interval) { interval_ = interval; }
  std::chrono::seconds interval() const { return interval_; }

  // A packet from the client arrived.
  void Heard(SteadyTime now) { heard_ = now; }

  // When the client is overdue; nullopt while keep-alive is off.
  std::optional<SteadyTime> Deadline() const;
  bool Expired(SteadyTime now) const;

 private:
  std::chrono::seconds interval_;
  SteadyTime heard_;
};

}  // namespace moat::proxy
