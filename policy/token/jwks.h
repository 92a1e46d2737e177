// The public keys bearer tokens are checked against, from a JWKS file (RFC 7517): several
// keys told apart by `kid`, so rotating keys is a file update. Only what moat verifies is
// accepted: RSA (2048 bits or more) for RS256, EC P-256 for ES256, OKP Ed25519 for EdDSA.
// A shared secret (kty "oct") or a private key in the file is an error: moat never
// verifies HMAC, so a public key can never be mistaken for an HMAC secret.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moat::policy {

enum class JwsAlgorithm : uint8_t { kRs256, kEs256, kEdDsa };
std::optional<JwsAlgorithm> JwsAlgorithmFromName(std::string_view name);
std::string_view JwsAlgorithmName(JwsAlgorithm algorithm);

class Jwks {
 public:
  struct Key;

  // Errors are "FILE:LINE: message" lines, one per problem.
  static absl::StatusOr<std::shared_ptr<const Jwks>> Load(const std::string& path);
  static absl::StatusOr<std::shared_ptr<const Jwks>> Parse(std::string_view file,
                                                           std::string_view text);
  ~Jwks();
  Jwks(const Jwks&) = delete;
  Jwks& operator=(const Jwks&) = delete;

  enum class Lookup : uint8_t { kFound, kUnknownKid, kWrongType };
  // The key named `kid` that can verify `algorithm`. Without a kid: the one key of that
  // type, if there is exactly one (an issuer with one key need not name it).
  const Key* Find(std::string_view kid, JwsAlgorithm algorithm, Lookup& lookup) const;
  // Whether `compact` (header.payload.signature) carries a valid `algorithm` signature by
  // `key`.
  bool VerifySignature(const Key& key, JwsAlgorithm algorithm, std::string_view compact) const;

  size_t size() const { return keys_.size(); }

 private:
  Jwks() = default;
  std::vector<std::unique_ptr<Key>> keys_;
};

}  // namespace moat::policy
