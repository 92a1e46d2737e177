#include "tests/metrics/scrape_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"

namespace moat::metrics::testing {

std::optional<double> SampleValue(std::string_view exposition, std::string_view series) {
  size_t pos = 0;
  while (pos < exposition.size()) {
    size_t end = exposition.find('\n', pos);
    if (end == std::string_view::npos) end = exposition.size();
    const std::string_view line = exposition.substr(pos, end - pos);
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      return std::strtod(std::string(line.substr(series.size() + 1)).c_str(), nullptr);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::string HttpResponse::Header(std::string_view name) const {
  size_t pos = headers.find("\r\n");  // skip the status line
  while (pos != std::string::npos && pos + 2 < headers.size()) {
    const size_t start = pos + 2;
    const size_t end = headers.find("\r\n", start);
    const std::string line = headers.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string::npos && absl::AsciiStrToLower(line.substr(0, colon)) == name) {
      std::string value = line.substr(colon + 1);
      absl::StripAsciiWhitespace(&value);
      return value;
    }
    pos = end;
  }
  return "";
}

RawConnection::RawConnection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> RawConnection::ReadUntilClose(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string data;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buffer[16384];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return data;
    if (n < 0) return errno == ECONNRESET ? std::optional<std::string>(data) : std::nullopt;
    data.append(buffer, static_cast<size_t>(n));
  }
}

bool RawConnection::WaitForClose(std::chrono::milliseconds timeout) {
  const std::optional<std::string> rest = ReadUntilClose(timeout);
  return rest.has_value() && rest->empty();
}

std::optional<HttpResponse> ParseResponse(const std::string& raw) {
  const size_t header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || header_end == std::string::npos) return std::nullopt;
  HttpResponse response;
  response.status = std::atoi(raw.c_str() + 9);
  response.headers = raw.substr(0, header_end + 2);
  response.body = raw.substr(header_end + 4);
  return response;
}

std::optional<HttpResponse> Exchange(uint16_t port, std::string_view request,
                                     std::chrono::milliseconds timeout) {
  RawConnection connection(port);
  if (!connection.connected() || !connection.Send(request)) return std::nullopt;
  const std::optional<std::string> raw = connection.ReadUntilClose(timeout);
  if (!raw) return std::nullopt;
  return ParseResponse(*raw);
}

std::optional<HttpResponse> Get(uint16_t port, std::string_view path,
                                std::string_view extra_headers, std::string_view method) {
  std::string request(method);
  request += " ";
  request += path;
  request += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  request += extra_headers;
  request += "\r\n";
  return Exchange(port, request);
}

}  // namespace moat::metrics::testing
