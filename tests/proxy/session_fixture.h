// What the relay and admission tests share: a metrics registry to read counters back, a
// clock the test moves, a small policy, and packet builders.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.h"
#include "policy/authorizer.h"
#include "proxy/mqtt/packet.h"
#include "proxy/session/keep_alive.h"

namespace moat::proxy::test {

class FakeClock final : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  void Advance(std::chrono::milliseconds by) { now_ += by; }

 private:
  SteadyTime now_{std::chrono::hours(1)};
};

// A client as admission leaves it: user, client id, address and listener.
policy::ClientIdentity MakeIdentity(std::string_view user, std::string_view client_id);

// Publishing and receiving anything but "secret/..." is allowed; CONNECT always is.
std::shared_ptr<const policy::Authorizer> NoSecretsAuthorizer();

// A registry with one listener, "test", and a thread's counters on it.
struct Counters {
  Counters();
  // The value of `series` in a scrape, 0 when it is not there.
  double Value(std::string_view series) const;

  std::unique_ptr<metrics::MetricsRegistry> registry;
  metrics::ThreadCounters* thread = nullptr;
};

std::vector<uint8_t> Bytes(const mqtt::Packet& packet, mqtt::ProtocolVersion version);
mqtt::Connect MakeConnect(mqtt::ProtocolVersion version, uint16_t keep_alive = 0);
mqtt::Publish MakePublish(std::string_view topic, std::string_view payload, uint8_t qos = 0,
                          uint16_t packet_id = 0);
std::vector<uint8_t> Cat(std::initializer_list<std::vector<uint8_t>> parts);

}  // namespace moat::proxy::test
