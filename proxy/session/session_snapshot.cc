// Session::Snapshot(), apart from session.cc: the admin API's view of a session reads
// what the relay and the report already keep, and changes nothing.
#include <chrono>

#include "proxy/session/session.h"

namespace moat::proxy {

std::optional<SessionSnapshot> Session::Snapshot() const {
  const std::optional<SteadyTime> admitted = report_.admitted();
  if (!relay_ || !admitted) return std::nullopt;
  SessionSnapshot snapshot;
  snapshot.identity = identity_.username;
  snapshot.client_id = identity_.client_id;
  snapshot.cert_identity = identity_.cert_identity;
  snapshot.address = identity_.address;
  snapshot.listener = identity_.listener;
  snapshot.protocol_version = std::string(MqttVersionName(relay_->version()));
  // The report keeps steady time; the wall clock is what an operator reads.
  const auto age = env_.relay.clock.Now() - *admitted;
  snapshot.connected_since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    (std::chrono::system_clock::now() - age).time_since_epoch())
                                    .count();
  using mqtt::Direction;
  snapshot.bytes_from_client = report_.bytes(Direction::kClientToServer);
  snapshot.bytes_from_broker = report_.bytes(Direction::kServerToClient);
  snapshot.messages_from_client = report_.messages(Direction::kClientToServer);
  snapshot.messages_from_broker = report_.messages(Direction::kServerToClient);
  for (const auto& [filter, qos] : relay_->enforcer().granted_filters()) {
    snapshot.subscriptions.emplace_back(filter, qos);
  }
  return snapshot;
}

}  // namespace moat::proxy
