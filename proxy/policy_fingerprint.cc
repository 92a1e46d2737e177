#include "proxy/policy_fingerprint.h"

#include <openssl/evp.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string_view>

namespace moat::proxy {
namespace {

// role NUL length NUL bytes: no two different sets of files give the same input.
void AddFile(std::string& input, std::string_view role, const std::string& path) {
  input.append(role).push_back('\0');
  if (path.empty()) {
    input.append("absent").push_back('\0');
    return;
  }
  std::ifstream file(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file && !file.eof()) {
    input.append("unreadable").push_back('\0');
    return;
  }
  input.append(std::to_string(bytes.size())).push_back('\0');
  input.append(bytes);
}

std::string Sha256Hex(const std::string& input) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0F]);
  }
  return hex;
}

}  // namespace

std::string PolicyFingerprint(const config::Config& config) {
  std::string input;
  AddFile(input, "acl_file", config.policy.acl_file);
  AddFile(input, "policy_file", config.policy.file);
  AddFile(input, "password_file", config.auth.password_file);
  input.append("allow_all=").append(config.policy.allow_all ? "1" : "0").push_back('\0');
  input.append("audit=").append(config.policy.audit_only ? "1" : "0").push_back('\0');
  input.append("grant=")
      .append(config.policy.subscription_grant == policy::SubscriptionGrant::kAnyReadable ? "any"
                                                                                          : "all")
      .push_back('\0');
  return Sha256Hex(input);
}

}  // namespace moat::proxy
