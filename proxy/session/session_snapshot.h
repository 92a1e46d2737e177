// One live session as the admin API lists it: taken on the session's own thread, then
// handed to the admin thread as plain values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moat::proxy {

struct SessionSnapshot {
  std::string identity;  // the authenticated user; empty for an anonymous client
  std::string client_id;
  std::string cert_identity;
  std::string address;
  std::string listener;
  std::string protocol_version;    // "3.1", "3.1.1" or "5"
  int64_t connected_since_ms = 0;  // Unix time of the admission, in milliseconds
  uint64_t bytes_from_client = 0;
  uint64_t bytes_from_broker = 0;
  uint64_t messages_from_client = 0;
  uint64_t messages_from_broker = 0;
  std::vector<std::pair<std::string, uint8_t>> subscriptions{};  // filter, granted QoS
};

}  // namespace moat::proxy
