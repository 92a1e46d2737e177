// The audit trail's copy for a SIEM: each line as one RFC 5424 message,
//
//   <PRI>1 TIMESTAMP HOSTNAME moat PID MSGID - MSG      (MSGID: the event, MSG: the JSON line)
//
// sent as a datagram to a local unix socket (syslogd's /dev/log, journald, a collector).
// Never waits: the send is non-blocking, and a socket that is missing or full loses the
// line, which the caller counts. The socket is named on every send, so a collector that
// restarts (and binds a new socket at the same path) is found again without a reconnect.
#pragma once

#include <sys/un.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace moat::proxy {

// RFC 5424 6.2.1 severities moat uses.
enum class SyslogSeverity : int { kError = 3, kWarning = 4, kNotice = 5, kInformational = 6 };

class SyslogSink {
 public:
  // `facility`: the RFC 5424 number (3 daemon, 16..23 local0..local7). Fails only if no
  // socket can be made at all; the path need not exist yet.
  static absl::StatusOr<std::unique_ptr<SyslogSink>> Open(const std::string& socket_path,
                                                          int facility);
  ~SyslogSink();
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  // Thread-safe. False: the line was lost (socket missing or full, line too long).
  bool Send(SyslogSeverity severity, std::string_view msgid, std::string_view message,
            absl::Time time);

  // The whole message, header and all, as Send() sends it.
  std::string Format(SyslogSeverity severity, std::string_view msgid, std::string_view message,
                     absl::Time time) const;

 private:
  SyslogSink(int fd, const sockaddr_un& address, int facility);

  const int fd_;
  const sockaddr_un address_;
  const int facility_;
  // " HOSTNAME moat PID ", the part of the header that never changes.
  const std::string origin_;
};

}  // namespace moat::proxy
