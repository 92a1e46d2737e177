#include "proxy/syslog_sink.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace moat::proxy {
namespace {

// RFC 5424 6.2.4: HOSTNAME is printable US-ASCII without spaces, at most 255 bytes; "-"
// when unknown.
std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "-";
  std::string host(name);
  if (host.empty()) return "-";
  for (const char c : host) {
    if (c <= ' ' || c > '~') return "-";
  }
  return host;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SyslogSink>> SyslogSink::Open(const std::string& socket_path,
                                                             int facility) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path) {
    return absl::InvalidArgumentError(
        absl::StrCat(socket_path, ": not a usable socket path for audit.syslog_socket"));
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  // Non-blocking: a collector that stops reading must never hold up an I/O thread.
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot make a socket for audit.syslog: ", std::strerror(errno)));
  }
  return std::unique_ptr<SyslogSink>(new SyslogSink(fd, address, facility));
}

SyslogSink::SyslogSink(int fd, const sockaddr_un& address, int facility)
    : fd_(fd),
      address_(address),
      facility_(facility),
      origin_(absl::StrCat(" ", Hostname(), " moat ", getpid(), " ")) {}

SyslogSink::~SyslogSink() { close(fd_); }

std::string SyslogSink::Format(SyslogSeverity severity, std::string_view msgid,
                               std::string_view message, absl::Time time) const {
  // VERSION 1, microseconds in UTC (RFC 5424 6.2.3), no STRUCTURED-DATA ("-"), and MSG
  // without a BOM: the JSON line is UTF-8, and collectors show a BOM as noise.
  return absl::StrCat("<", facility_ * 8 + static_cast<int>(severity), ">1 ",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone()), origin_,
                      std::string(msgid), " - ", std::string(message));
}

bool SyslogSink::Send(SyslogSeverity severity, std::string_view msgid, std::string_view message,
                      absl::Time time) {
  const std::string datagram = Format(severity, msgid, message, time);
  const ssize_t sent = sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&address_), sizeof address_);
  return sent == static_cast<ssize_t>(datagram.size());
}

}  // namespace moat::proxy
