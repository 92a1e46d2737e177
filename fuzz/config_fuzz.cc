// Arbitrary text as a config file into ParseConfig(): nothing may crash, leak or read out of
// bounds, and
//   - a refused config gives only "FILE:LINE: message" lines, LINE within the file and in
//     ascending order;
//   - an accepted config holds what the loader promises: at least one listener, listener
//     names and bind addresses unique, every file it names an absolute path.
//
// The loader checks that the files a config names exist and are readable (stat, access)
// but opens none of them; relative names resolve against the config's folder. The config
// is named as a file in a fresh temporary folder holding empty files under the names the
// seeds use, so seeds can be accepted; the harness writes nothing anywhere else and does
// not change folder (libFuzzer's corpus and artifact paths are relative to it).
//
//   input: the whole config text
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "fuzz/problem_lines.h"
#include "proxy/config/config.h"

namespace {

using moat::config::Config;
using moat::fuzz::Check;

constexpr const char* kFilesTheSeedsName[] = {"server.crt", "server.key",  "ca.crt",
                                              "client.crt", "client.key",  "passwd",
                                              "acl",        "policy.yaml", "token"};

std::filesystem::path& WorkFolder() {
  static std::filesystem::path folder;
  return folder;
}

// The config's name: it prefixes every message, and its folder is the base of relative
// names.
const std::string& ConfigPath() {
  static const std::string path = (WorkFolder() / "moat.yaml").string();
  return path;
}

void RemoveWorkFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(WorkFolder(), ignored);
}

bool IsAbsoluteOrEmpty(const std::string& path) { return path.empty() || path.front() == '/'; }

void CheckAccepted(const Config& config) {
  Check(config.path == ConfigPath(), "config path differs from the one given");
  Check(!config.listeners.empty(), "accepted config without a listener");
  std::set<std::string> names;
  std::set<std::string> binds;
  for (const moat::config::Listener& listener : config.listeners) {
    Check(!listener.name.empty(), "listener without a name");
    Check(names.insert(listener.name).second, "two listeners share a name");
    Check(binds.insert(listener.bind.ToString()).second, "two listeners share a bind address");
    if (listener.tls) {
      Check(IsAbsoluteOrEmpty(listener.tls->cert) && IsAbsoluteOrEmpty(listener.tls->key) &&
                IsAbsoluteOrEmpty(listener.tls->client_ca),
            "listener TLS file not resolved to an absolute path");
    }
  }
  if (config.upstream.tls) {
    Check(IsAbsoluteOrEmpty(config.upstream.tls->ca) &&
              IsAbsoluteOrEmpty(config.upstream.tls->cert) &&
              IsAbsoluteOrEmpty(config.upstream.tls->key),
          "upstream TLS file not resolved to an absolute path");
  }
  Check(IsAbsoluteOrEmpty(config.auth.password_file) &&
            IsAbsoluteOrEmpty(config.upstream.password_file) &&
            IsAbsoluteOrEmpty(config.policy.acl_file) && IsAbsoluteOrEmpty(config.policy.file),
        "file not resolved to an absolute path");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "moat-config-fuzz-XXXXXX").string();
  Check(mkdtemp(pattern.data()) != nullptr, "cannot create the work folder");
  WorkFolder() = pattern;
  std::atexit(RemoveWorkFolder);
  for (const char* name : kFilesTheSeedsName) {
    std::ofstream(WorkFolder() / name) << "";
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Config> config = moat::config::ParseConfig(text, ConfigPath());
  if (config.ok()) {
    CheckAccepted(*config);
  } else {
    moat::fuzz::CheckRefusal(text, ConfigPath(), config.status());
  }
  return 0;
}
