#include "proxy/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
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

// "text" with '"', '\\' and control characters escaped as in JSON.
void AppendQuoted(std::string& line, std::string_view text) {
  line.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      line.push_back('\\');
      line.push_back(c);
    } else if (byte < 0x20 || byte == 0x7F) {
      absl::StrAppendFormat(&line, "\\u%04x", byte);
    } else {
      line.push_back(c);
    }
  }
  line.push_back('"');
}

}  // namespace

void LogInfo(std::string_view message) { Write("info", message); }
void LogWarning(std::string_view message) { Write("warning", message); }
void LogError(std::string_view message) { Write("error", message); }

void LogSessionEnd(const policy::ClientIdentity& client, std::string_view reason,
                   std::string_view detail) {
  std::string line = "session end: reason=";
  line.append(reason).append(" address=").append(client.address);
  line.append(" listener=").append(client.listener);
  // The client chose its id: quoted and escaped, so it cannot forge a line or a field.
  line.append(" client_id=");
  AppendQuoted(line, client.client_id);
  if (!detail.empty()) {
    line.append(" detail=");
    AppendQuoted(line, detail);
  }
  Write("info", line);
}

}  // namespace moat::proxy
