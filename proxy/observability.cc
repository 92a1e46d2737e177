#include "proxy/observability.h"

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "policy/rule_labels.h"
#include "proxy/tls/tls_context.h"

namespace moat::proxy {
namespace {

// Decisions carry policy::RuleLabels numbers, which the data path counts as
// metrics::RuleLabel as they are: the two must number the same set.
static_assert(policy::RuleLabels::kCount == metrics::kRuleLabelCount);
static_assert(policy::RuleLabels::kDefault == metrics::kNoRuleLabel.index);

std::vector<std::string> CertificateFiles(const config::Config& config) {
  std::vector<std::string> files;
  for (const auto& listener : config.listeners) {
    if (listener.tls) files.push_back(listener.tls->cert);
  }
  if (config.upstream.tls && !config.upstream.tls->cert.empty()) {
    files.push_back(config.upstream.tls->cert);
  }
  for (const auto& server : config.upstream.servers) {
    if (server.tls && !server.tls->cert.empty()) files.push_back(server.tls->cert);
  }
  if (config.metrics.tls) files.push_back(config.metrics.tls->cert);
  // The same file on two listeners is one certificate.
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

// The CRL files that are in force: those of the listeners and of metrics.tls.
std::vector<std::string> CrlFiles(const config::Config& config) {
  std::vector<std::string> files;
  for (const auto& listener : config.listeners) {
    if (listener.tls) {
      files.insert(files.end(), listener.tls->crl_files.begin(), listener.tls->crl_files.end());
    }
  }
  if (config.metrics.tls) {
    files.insert(files.end(), config.metrics.tls->crl_files.begin(),
                 config.metrics.tls->crl_files.end());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

std::optional<int64_t> NotAfter(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return std::nullopt;
  X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (certificate == nullptr) return std::nullopt;
  std::tm tm{};
  std::optional<int64_t> result;
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &tm) == 1) result = timegm(&tm);
  X509_free(certificate);
  return result;
}

std::optional<std::string> FirstLine(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return std::nullopt;
  char buffer[4096];
  std::string line;
  if (std::fgets(buffer, sizeof(buffer), file) != nullptr) line = buffer;
  std::fclose(file);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return std::nullopt;
  return line;
}

}  // namespace

absl::StatusOr<std::string> MetricsAuthorization(const config::Metrics& metrics) {
  if (!metrics.bearer_token_file.empty()) {
    auto token = FirstLine(metrics.bearer_token_file);
    if (!token) {
      return absl::InvalidArgumentError(metrics.bearer_token_file + ":1: no token in the file");
    }
    return "Bearer " + *token;
  }
  if (!metrics.basic_auth_file.empty()) {
    auto credentials = FirstLine(metrics.basic_auth_file);
    if (!credentials || credentials->find(':') == std::string::npos) {
      return absl::InvalidArgumentError(metrics.basic_auth_file +
                                        ":1: expected one line \"user:password\"");
    }
    std::string encoded(4 * ((credentials->size() + 2) / 3) + 1, '\0');
    const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(credentials->data()),
                                     static_cast<int>(credentials->size()));
    encoded.resize(static_cast<size_t>(size));
    return "Basic " + encoded;
  }
  return std::string();
}

absl::StatusOr<std::unique_ptr<metrics::MetricsRegistry>> MakeRegistry(
    const config::Config& config) {
  metrics::RegistryOptions options;
  for (const auto& listener : config.listeners) options.listeners.push_back(listener.name);
  options.spare_listeners = kSpareListeners;
  options.spare_upstream_servers = kSpareUpstreamServers;
  options.certificate_files = CertificateFiles(config);
  options.crl_files = CrlFiles(config);
  for (const auto& server : config.upstream.servers) {
    options.upstream_servers.push_back(server.address.ToString());
  }
  options.version = MOAT_VERSION;
  options.rule_labels = [] { return policy::RuleLabels::Global().Names(); };
  return metrics::MetricsRegistry::Create(std::move(options));
}

void RecordCertificateExpiry(const config::Config& config, metrics::MetricsRegistry& registry) {
  for (const std::string& path : CertificateFiles(config)) {
    const auto id = registry.FindCertificateFile(path);
    const auto not_after = NotAfter(path);
    if (id && not_after) {
      registry.Set<metrics::Metric::kCertificateExpiryTimestampSeconds>(*id, *not_after);
    }
  }
}

std::optional<int64_t> EarliestNextUpdate(const std::string& path) {
  auto crls = tls::ReadCrls(path);
  if (!crls.ok()) return std::nullopt;
  int64_t earliest = 0;
  for (const tls::CrlPtr& crl : *crls) {
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl.get());
    std::tm tm{};
    if (next_update == nullptr || ASN1_TIME_to_tm(next_update, &tm) != 1) continue;
    const int64_t when = timegm(&tm);
    if (earliest == 0 || when < earliest) earliest = when;
  }
  return earliest;
}

void RecordCrlNextUpdate(const config::Config& config, metrics::MetricsRegistry& registry) {
  for (const std::string& path : CrlFiles(config)) {
    const auto id = registry.FindCrlFile(path);
    const auto next_update = EarliestNextUpdate(path);
    if (id && next_update) {
      registry.Set<metrics::Metric::kCrlNextUpdateTimestampSeconds>(*id, *next_update);
    }
  }
}

std::string WatchedFilesFingerprint(const config::Config& config) {
  std::vector<std::string> paths = CertificateFiles(config);
  for (const auto& listener : config.listeners) {
    if (listener.tls) {
      paths.push_back(listener.tls->key);
      if (!listener.tls->client_ca.empty()) paths.push_back(listener.tls->client_ca);
      paths.insert(paths.end(), listener.tls->crl_files.begin(), listener.tls->crl_files.end());
    }
  }
  if (config.upstream.tls) {
    paths.push_back(config.upstream.tls->ca);
    if (!config.upstream.tls->key.empty()) paths.push_back(config.upstream.tls->key);
  }
  for (const auto& server : config.upstream.servers) {
    if (!server.tls) continue;
    paths.push_back(server.tls->ca);
    if (!server.tls->key.empty()) paths.push_back(server.tls->key);
  }
  if (config.metrics.tls) {
    paths.push_back(config.metrics.tls->key);
    if (!config.metrics.tls->client_ca.empty()) paths.push_back(config.metrics.tls->client_ca);
    paths.insert(paths.end(), config.metrics.tls->crl_files.begin(),
                 config.metrics.tls->crl_files.end());
  }
  for (const std::string* path :
       {&config.auth.password_file, &config.policy.acl_file, &config.policy.file}) {
    if (!path->empty()) paths.push_back(*path);
  }
  if (config.auth.jwt) paths.push_back(config.auth.jwt->jwks_file);
  if (!config.upstream.password_file.empty()) paths.push_back(config.upstream.password_file);
  if (!config.admin.bearer_token_file.empty()) paths.push_back(config.admin.bearer_token_file);
  if (config.admin.tls) {
    paths.push_back(config.admin.tls->cert);
    paths.push_back(config.admin.tls->key);
  }
  // moat.yaml itself: a reload reads it again too.
  paths.push_back(config.path);
  std::string fingerprint;
  for (const std::string& path : paths) {
    struct stat info {};
    fingerprint += path;
    if (::stat(path.c_str(), &info) == 0) {
      // StrAppend, not a chain of operator+: GCC 12 at -O3 warns (-Wrestrict) about the
      // temporaries of the chain.
      absl::StrAppend(&fingerprint, ":", info.st_ino, ":", info.st_size, ":", info.st_mtim.tv_sec,
                      ".", info.st_mtim.tv_nsec);
    }
    fingerprint += "\n";
  }
  return fingerprint;
}

}  // namespace moat::proxy
