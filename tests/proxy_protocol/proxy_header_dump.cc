// proxy_header_dump FILE: what moat's PROXY header parser reads from the bytes in FILE
// (a header, possibly followed by the stream it opens), as one JSON object on stdout.
// Exit 0 when the parser is done, 1 when it refuses the bytes or wants more.
//
// The integration tests capture headers from real senders (HAProxy, moat itself) and
// compare what this prints for each: the parser, not a second decoder in Python, is
// what must understand them.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/proxy_protocol/proxy_protocol.h"
#include "proxy/proxy_protocol/tlv.h"

namespace {

namespace pp = moat::proxy_protocol;

std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned char>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Endpoint(const pp::SocketAddress& address) {
  return Quoted(address.ip + " " + std::to_string(address.port));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: proxy_header_dump FILE\n";
    return 2;
  }
  std::ifstream file(argv[1], std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                   std::istreambuf_iterator<char>());
  const pp::ParseResult result = pp::ParseProxyHeader(bytes, pp::ProxyProtocolVersionAllowed::kAny);
  if (result.status != pp::ParseStatus::kDone) {
    std::cout << "{\"error\": "
              << Quoted(result.status == pp::ParseStatus::kError ? result.error : "incomplete")
              << "}\n";
    return 1;
  }
  std::cout << "{\"version\": " << result.version << ", \"consumed\": " << result.consumed
            << ", \"local\": " << (result.is_local ? "true" : "false");
  if (result.addresses) {
    std::cout << ", \"source\": " << Endpoint(result.addresses->source)
              << ", \"destination\": " << Endpoint(result.addresses->destination);
  }
  std::cout << ", \"tlv_types\": [";
  for (size_t i = 0; i < result.tlvs.size(); ++i) {
    std::cout << (i ? ", " : "") << static_cast<int>(result.tlvs[i].type);
  }
  std::cout << "]";
  if (const auto value = pp::FindTlv(result.tlvs, pp::kTypeSsl)) {
    if (const auto ssl = pp::DecodeSslTlv(*value)) {
      std::cout << ", \"ssl\": {\"client\": " << static_cast<int>(ssl->client)
                << ", \"verify\": " << ssl->verify << ", \"version\": " << Quoted(ssl->version)
                << ", \"cn\": " << Quoted(ssl->cn) << ", \"cipher\": " << Quoted(ssl->cipher)
                << "}";
    } else {
      std::cout << ", \"ssl\": \"malformed\"";
    }
  }
  if (const auto user = pp::FindTlv(result.tlvs, pp::kTypeMoatUser)) {
    std::cout << ", \"user\": " << Quoted(*user);
  }
  if (const auto client_id = pp::FindTlv(result.tlvs, pp::kTypeMoatClientId)) {
    std::cout << ", \"client_id\": " << Quoted(*client_id);
  }
  std::cout << "}\n";
  return 0;
}
