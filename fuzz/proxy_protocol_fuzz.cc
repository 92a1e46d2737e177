// Arbitrary bytes into ParseProxyHeader(): nothing may crash or read out of bounds, and
// the answers must be consistent with how a session uses them, re-parsing a growing
// buffer after every read:
//   - kDone consumes at least one and at most kMaxHeaderSize bytes, and the header alone
//     parses to the same answer; one byte less is kNeedMore;
//   - kNeedMore never asks for more than kMaxHeaderSize bytes, else a peer could make
//     the session buffer without bound;
//   - an answer other than kNeedMore for a prefix is final: one more byte cannot change
//     it (a verdict must not depend on how the bytes were split into reads);
//   - addresses are canonical inet_ntop text that inet_pton reads back.
//
//   input[0]   selector: value % 3 picks the versions allowed (0 v1, 1 v2, 2 any)
//   input[1..] the bytes the listener receives
#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz/check.h"
#include "proxy/proxy_protocol/proxy_protocol.h"

namespace {

using moat::fuzz::Check;
using moat::proxy_protocol::kMaxHeaderSize;
using moat::proxy_protocol::ParseProxyHeader;
using moat::proxy_protocol::ParseResult;
using moat::proxy_protocol::ParseStatus;
using moat::proxy_protocol::ProxyProtocolVersionAllowed;

bool Same(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.version == b.version &&
         a.addresses == b.addresses && a.is_local == b.is_local && a.error == b.error;
}

bool IsCanonicalIp(const std::string& ip) {
  std::array<uint8_t, 16> binary{};
  const int family = ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(family, ip.c_str(), binary.data()) != 1) return false;
  char text[INET6_ADDRSTRLEN] = {};
  return inet_ntop(family, binary.data(), text, sizeof(text)) != nullptr && ip == text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr std::array<ProxyProtocolVersionAllowed, 3> kAllowed = {
      ProxyProtocolVersionAllowed::kV1, ProxyProtocolVersionAllowed::kV2,
      ProxyProtocolVersionAllowed::kAny};
  const ProxyProtocolVersionAllowed allowed = kAllowed[data[0] % 3];
  const std::span<const uint8_t> bytes(data + 1, size - 1);

  const ParseResult whole = ParseProxyHeader(bytes, allowed);
  switch (whole.status) {
    case ParseStatus::kNeedMore:
      Check(bytes.size() < kMaxHeaderSize, "kNeedMore with kMaxHeaderSize bytes buffered");
      Check(whole.consumed == 0 && whole.error.empty(), "kNeedMore carries a result");
      break;
    case ParseStatus::kError:
      Check(whole.consumed == 0, "kError consumed bytes");
      Check(!whole.error.empty(), "kError without a message");
      break;
    case ParseStatus::kDone: {
      Check(whole.consumed >= 1 && whole.consumed <= bytes.size(), "kDone consumed out of range");
      Check(whole.consumed <= kMaxHeaderSize, "kDone header longer than kMaxHeaderSize");
      Check(whole.version == 1 || whole.version == 2, "kDone without a version");
      Check(whole.is_local == !whole.addresses.has_value(), "is_local disagrees with addresses");
      Check(whole.error.empty(), "kDone with an error message");
      if (whole.addresses) {
        Check(IsCanonicalIp(whole.addresses->source.ip), "source ip not canonical");
        Check(IsCanonicalIp(whole.addresses->destination.ip), "destination ip not canonical");
      }
      const ParseResult header_only = ParseProxyHeader(bytes.first(whole.consumed), allowed);
      Check(Same(header_only, whole), "the header alone parses differently");
      const ParseResult short_by_one = ParseProxyHeader(bytes.first(whole.consumed - 1), allowed);
      Check(short_by_one.status == ParseStatus::kNeedMore,
            "header minus one byte is not kNeedMore");
      break;
    }
  }
  // One byte less: either still waiting, or already the same verdict.
  if (!bytes.empty()) {
    const ParseResult before = ParseProxyHeader(bytes.first(bytes.size() - 1), allowed);
    Check(before.status == ParseStatus::kNeedMore || Same(before, whole),
          "a verdict changed when one more byte arrived");
  }
  return 0;
}
