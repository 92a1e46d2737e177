// The one question-answering interface the data path asks before anything is
// forwarded: at CONNECT, for each PUBLISH from the client, each SUBSCRIBE, and each
// PUBLISH the broker delivers. Implementations hold no sockets and never block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace moat::policy {

// What moat knows about a connection once its CONNECT has been read.
struct ClientIdentity {
  std::string username;  // empty for an anonymous client
  std::string client_id;
  std::string cert_identity;  // from a verified client certificate, if any
  std::string address;        // source IP (after the PROXY protocol, if any)
  std::string listener;       // the listener's name
};

enum class Verdict : uint8_t { kAllow, kDeny };

struct Decision {
  Verdict verdict = Verdict::kDeny;
  std::string_view rule;  // what decided ("file:line" or a rule id); empty for defaults

  bool allowed() const { return verdict == Verdict::kAllow; }
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Decision AuthorizeConnect(const ClientIdentity& client) const = 0;
  virtual Decision MayPublish(const ClientIdentity& client, std::string_view topic, uint8_t qos,
                              bool retain) const = 0;
  virtual Decision MaySubscribe(const ClientIdentity& client, std::string_view filter,
                                uint8_t qos) const = 0;
  virtual Decision MayReceive(const ClientIdentity& client, std::string_view topic) const = 0;
};

// Grants everything: moat as an invisible, parsing-only proxy. Used when neither a
// password file nor a policy is configured and anonymous access is allowed.
std::shared_ptr<const Authorizer> MakeAllowAllAuthorizer();

}  // namespace moat::policy
