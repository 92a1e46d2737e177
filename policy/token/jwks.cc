#include "policy/token/jwks.h"

#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <openssl/evp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "policy/file_reading/file_text.h"
#include "policy/file_reading/yaml_map.h"
#include "policy/token/base64url.h"

namespace moat::policy {

using file_reading::Field;
using file_reading::MapReader;
using file_reading::Problems;
using file_reading::Quote;

struct Jwks::Key {
  std::string kid;
  JwsAlgorithm algorithm;
  // RS256 and ES256 are verified by cjose; EdDSA, which cjose 0.6 does not implement, by
  // OpenSSL's Ed25519 directly.
  cjose_jwk_t* jwk = nullptr;
  EVP_PKEY* ed25519 = nullptr;

  ~Key() {
    if (jwk != nullptr) cjose_jwk_release(jwk);
    EVP_PKEY_free(ed25519);
  }
};

namespace {

// Members that only a private or secret key has (RFC 7518 section 6).
constexpr std::string_view kPrivateMembers[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
constexpr size_t kMinRsaBytes = 2048 / 8;

class KeyReader {
 public:
  KeyReader(const Field& field, Problems& problems) : field_(field), problems_(problems) {}

  // The key, or null with its problems recorded (or skipped: an encryption key).
  std::unique_ptr<Jwks::Key> Read() {
    if (!field_.value.IsMap()) {
      Problem(absl::StrCat("'", field_.path, "' must be a JWK (a map)"));
      return nullptr;
    }
    map_.emplace(field_.value, field_.path, field_.line, problems_);
    for (std::string_view member : kPrivateMembers) {
      if (map_->Find(member) != nullptr) {
        Problem(absl::StrCat("'", field_.path, "' holds private key material ('",
                             std::string(member), "'): give moat the public key only"));
        return nullptr;
      }
    }
    // Keys published for encryption are not signing keys; an issuer's JWKS may list both.
    if (const auto use = Text("use"); use && *use == "enc") return nullptr;
    const auto kty = Text("kty");
    if (!kty) {
      Problem(absl::StrCat("'", field_.path, "' has no 'kty'"));
      return nullptr;
    }
    auto key = std::make_unique<Jwks::Key>();
    if (const auto kid = Text("kid")) key->kid = *kid;
    bool read = false;
    if (*kty == "RSA") {
      key->algorithm = JwsAlgorithm::kRs256;
      read = ReadRsa(*key);
    } else if (*kty == "EC") {
      key->algorithm = JwsAlgorithm::kEs256;
      read = ReadEc(*key);
    } else if (*kty == "OKP") {
      key->algorithm = JwsAlgorithm::kEdDsa;
      read = ReadOkp(*key);
    } else if (*kty == "oct") {
      Problem(absl::StrCat("'", field_.path,
                           "' is a shared secret (kty 'oct'): moat verifies RS256, ES256 and "
                           "EdDSA only, never HMAC"));
    } else {
      Problem(absl::StrCat("'", field_.path, ".kty' must be RSA, EC or OKP, got ", Quote(*kty)));
    }
    if (!read) return nullptr;
    if (const auto alg = Text("alg")) {
      const auto named = JwsAlgorithmFromName(*alg);
      if (!named || *named != key->algorithm) {
        Problem(absl::StrCat("'", field_.path, ".alg' is ", Quote(*alg), ": a ", *kty,
                             " key here must be for ",
                             std::string(JwsAlgorithmName(key->algorithm))));
        return nullptr;
      }
    }
    return key;
  }

 private:
  void Problem(std::string message) { problems_.Add(field_.line, std::move(message)); }

  std::optional<std::string> Text(std::string_view member) {
    const Field* f = map_->Find(member);
    if (f == nullptr) return std::nullopt;
    if (!f->value.IsScalar()) {
      problems_.Add(f->line, absl::StrCat("'", f->path, "' must be a string"));
      return std::nullopt;
    }
    return f->value.Scalar();
  }

  // A base64url member, required.
  std::optional<std::string> Bytes(std::string_view member) {
    const Field* f = map_->Find(member);
    if (f == nullptr) {
      Problem(absl::StrCat("'", field_.path, "' has no '", std::string(member), "'"));
      return std::nullopt;
    }
    std::optional<std::string> bytes;
    if (f->value.IsScalar()) bytes = Base64UrlDecode(f->value.Scalar());
    if (!bytes || bytes->empty()) {
      problems_.Add(f->line, absl::StrCat("'", f->path, "' must be base64url"));
      return std::nullopt;
    }
    return bytes;
  }

  static uint8_t* Data(std::string& bytes) { return reinterpret_cast<uint8_t*>(bytes.data()); }

  bool ReadRsa(Jwks::Key& key) {
    auto n = Bytes("n");
    auto e = Bytes("e");
    if (!n || !e) return false;
    const size_t leading_zeros = n->find_first_not_of('\0');
    if (leading_zeros == std::string::npos || n->size() - leading_zeros < kMinRsaBytes) {
      Problem(absl::StrCat("'", field_.path, "' is an RSA key under 2048 bits"));
      return false;
    }
    cjose_jwk_rsa_keyspec spec{};
    spec.n = Data(*n);
    spec.nlen = n->size();
    spec.e = Data(*e);
    spec.elen = e->size();
    cjose_err error;
    key.jwk = cjose_jwk_create_RSA_spec(&spec, &error);
    if (key.jwk == nullptr) Problem(absl::StrCat("'", field_.path, "': ", error.message));
    return key.jwk != nullptr;
  }

  bool ReadEc(Jwks::Key& key) {
    const auto crv = Text("crv");
    if (!crv || *crv != "P-256") {
      Problem(absl::StrCat("'", field_.path, ".crv' must be P-256 (ES256), got ",
                           Quote(crv.value_or(""))));
      return false;
    }
    auto x = Bytes("x");
    auto y = Bytes("y");
    if (!x || !y) return false;
    if (x->size() != 32 || y->size() != 32) {
      Problem(absl::StrCat("'", field_.path, "': x and y must be 32 bytes for P-256"));
      return false;
    }
    cjose_jwk_ec_keyspec spec{};
    spec.crv = CJOSE_JWK_EC_P_256;
    spec.x = Data(*x);
    spec.xlen = x->size();
    spec.y = Data(*y);
    spec.ylen = y->size();
    cjose_err error;
    key.jwk = cjose_jwk_create_EC_spec(&spec, &error);
    if (key.jwk == nullptr) {
      Problem(absl::StrCat("'", field_.path, "' is not a point on P-256: ", error.message));
    }
    return key.jwk != nullptr;
  }

  bool ReadOkp(Jwks::Key& key) {
    const auto crv = Text("crv");
    if (!crv || *crv != "Ed25519") {
      Problem(absl::StrCat("'", field_.path, ".crv' must be Ed25519 (EdDSA), got ",
                           Quote(crv.value_or(""))));
      return false;
    }
    auto x = Bytes("x");
    if (!x) return false;
    key.ed25519 = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Data(*x), x->size());
    if (key.ed25519 == nullptr) {
      Problem(absl::StrCat("'", field_.path, ".x' is not an Ed25519 public key"));
    }
    return key.ed25519 != nullptr;
  }

  const Field& field_;
  Problems& problems_;
  std::optional<MapReader> map_;
};

bool VerifyEd25519(EVP_PKEY* key, std::string_view compact) {
  const size_t last_dot = compact.rfind('.');
  const std::optional<std::string> signature = Base64UrlDecode(compact.substr(last_dot + 1));
  if (!signature || signature->size() != 64) return false;
  const std::string_view signed_part = compact.substr(0, last_dot);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  bool valid =
      context != nullptr && EVP_DigestVerifyInit(context, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(context, reinterpret_cast<const uint8_t*>(signature->data()),
                       signature->size(), reinterpret_cast<const uint8_t*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(context);
  return valid;
}

}  // namespace

std::optional<JwsAlgorithm> JwsAlgorithmFromName(std::string_view name) {
  if (name == "RS256") return JwsAlgorithm::kRs256;
  if (name == "ES256") return JwsAlgorithm::kEs256;
  if (name == "EdDSA") return JwsAlgorithm::kEdDsa;
  return std::nullopt;
}

std::string_view JwsAlgorithmName(JwsAlgorithm algorithm) {
  switch (algorithm) {
    case JwsAlgorithm::kRs256:
      return "RS256";
    case JwsAlgorithm::kEs256:
      return "ES256";
    case JwsAlgorithm::kEdDsa:
      return "EdDSA";
  }
  return "unknown";
}

Jwks::~Jwks() = default;

absl::StatusOr<std::shared_ptr<const Jwks>> Jwks::Load(const std::string& path) {
  auto text = file_reading::ReadFileText(path, "the JWKS file");
  if (!text.ok()) return text.status();
  return Parse(path, *text);
}

absl::StatusOr<std::shared_ptr<const Jwks>> Jwks::Parse(std::string_view file,
                                                        std::string_view text) {
  Problems problems(file, text);
  // JSON is YAML, and reading it as YAML gives every key a line for its messages.
  const std::optional<YAML::Node> document = file_reading::ParseDocument(text, problems);
  std::shared_ptr<Jwks> jwks(new Jwks);
  if (document && !document->IsMap()) {
    problems.Add(1, "a JWKS file must be a JSON object with \"keys\"");
  } else if (document) {
    MapReader top(*document, "", 1, {"keys"}, problems);
    if (const Field* keys = top.Require("keys");
        keys != nullptr && file_reading::ExpectSequence(*keys, problems)) {
      std::set<std::string> kids;
      for (const Field& element : file_reading::Elements(*keys)) {
        std::unique_ptr<Key> key = KeyReader(element, problems).Read();
        if (!key) continue;
        if (!key->kid.empty() && !kids.insert(key->kid).second) {
          problems.Add(element.line, absl::StrCat("kid ", Quote(key->kid),
                                                  " is given to two keys: which one "
                                                  "verifies a token would be a guess"));
          continue;
        }
        jwks->keys_.push_back(std::move(key));
      }
      if (problems.empty() && jwks->keys_.empty()) {
        problems.Add(keys->line, "no signing key: every token would be refused");
      }
    }
  }
  if (!problems.empty()) return problems.ToStatus();
  return std::shared_ptr<const Jwks>(std::move(jwks));
}

const Jwks::Key* Jwks::Find(std::string_view kid, JwsAlgorithm algorithm, Lookup& lookup) const {
  const Key* found = nullptr;
  int of_type = 0;
  lookup = Lookup::kUnknownKid;
  for (const auto& key : keys_) {
    if (!kid.empty()) {
      if (key->kid != kid) continue;
      if (key->algorithm != algorithm) {
        lookup = Lookup::kWrongType;
        return nullptr;
      }
      lookup = Lookup::kFound;
      return key.get();
    }
    if (key->algorithm == algorithm) {
      found = key.get();
      ++of_type;
    }
  }
  if (kid.empty() && of_type == 1) {
    lookup = Lookup::kFound;
    return found;
  }
  return nullptr;
}

bool Jwks::VerifySignature(const Key& key, JwsAlgorithm algorithm, std::string_view compact) const {
  if (key.algorithm != algorithm) return false;
  if (algorithm == JwsAlgorithm::kEdDsa) return VerifyEd25519(key.ed25519, compact);
  // Every part well-formed before cjose sees it (see IsBase64Url): callers may not have
  // checked.
  for (std::string_view rest = compact;;) {
    const size_t dot = rest.find('.');
    if (!IsBase64Url(rest.substr(0, dot))) return false;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  cjose_err error;
  cjose_jws_t* jws = cjose_jws_import(compact.data(), compact.size(), &error);
  if (jws == nullptr) return false;
  const bool valid = cjose_jws_verify(jws, key.jwk, &error);
  cjose_jws_release(jws);
  return valid;
}

}  // namespace moat::policy
