#include "proxy/log.h"

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace moat::proxy {
namespace {

void Write(std::string_view level, std::string_view message) {
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line.append(" ").append(level).append(" ").append(message).append("\n");
  // One fwrite per line keeps lines from different threads whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void LogInfo(std::string_view message) { Write("info", message); }
void LogError(std::string_view message) { Write("error", message); }

void LogSessionEnd(const policy::ClientIdentity& client, std::string_view reason,
                   std::string_view detail) {
  // Ordinary ends are not logged: at thousands of connections a second they would
  // drown what matters.
  if (reason == "client_disconnected" || reason == "client_closed" || reason == "shutdown") {
    return;
  }
  std::string line = "session end: reason=";
  line.append(reason).append(" address=").append(client.address);
  line.append(" listener=").append(client.listener);
  line.append(" client_id=\"").append(client.client_id).append("\"");
  if (!detail.empty()) line.append(" detail=\"").append(detail).append("\"");
  Write("info", line);
}

}  // namespace moat::proxy
