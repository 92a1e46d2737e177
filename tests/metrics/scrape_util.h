// Helpers for reading an exposition and talking raw HTTP to the metrics server.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moat::metrics::testing {

// The value of the sample whose name and labels are exactly `series` (e.g.
// `moat_bytes_total{direction="client_to_broker"}`), if present.
std::optional<double> SampleValue(std::string_view exposition, std::string_view series);

struct HttpResponse {
  int status = 0;
  std::string headers;  // the raw status line and header block
  std::string body;
  std::string Header(std::string_view lower_case_name) const;  // "" if absent
};

// A blocking loopback TCP connection with a receive timeout.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Send(std::string_view bytes);
  // Everything until the peer closes (or `timeout` passes: then nullopt).
  std::optional<std::string> ReadUntilClose(std::chrono::milliseconds timeout);
  // True when the peer has closed (EOF or reset) within `timeout`, without data pending.
  bool WaitForClose(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

std::optional<HttpResponse> ParseResponse(const std::string& raw);

// Sends `request` as is and parses the answer; nullopt on a connection failure or timeout.
std::optional<HttpResponse> Exchange(uint16_t port, std::string_view request,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A GET (or another method) for `path` with optional extra header lines ("Name: v\r\n").
std::optional<HttpResponse> Get(uint16_t port, std::string_view path,
                                std::string_view extra_headers = "",
                                std::string_view method = "GET");

}  // namespace moat::metrics::testing
