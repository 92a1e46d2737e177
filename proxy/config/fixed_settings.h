// The settings of moat.yaml a reload cannot change while moat runs: the worker and
// hashing thread counts, the metrics and admin endpoints, and the password, token and ban
// machinery that holds state. Each is kept as written (canonical YAML) with its line, so
// a reload that changes one is refused with FILE:LINE and the running config stays whole.
#pragma once

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace moat::config {

struct FixedSetting {
  std::string path;  // "auth.hash_threads"
  std::string yaml;  // canonical form; empty when not written
  int line = 0;      // where it is written, or where its section is; 1 when neither is
};

// `key` of a config file's root map as canonical YAML; empty when not written.
std::string SectionYaml(const YAML::Node& root, const std::string& key);

// From a config file's root map.
std::vector<FixedSetting> ReadFixedSettings(const YAML::Node& root);

// "FILE:LINE: PATH cannot change while moat runs (restart moat to apply it)" for each
// fixed setting `loaded` (read from `file`) writes differently from `running`.
std::vector<std::string> FixedSettingChanges(const std::vector<FixedSetting>& running,
                                             const std::vector<FixedSetting>& loaded,
                                             const std::string& file);

}  // namespace moat::config
