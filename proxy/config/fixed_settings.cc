#include "proxy/config/fixed_settings.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace moat::config {

namespace {

struct FixedPath {
  std::string_view section;  // a top-level key
  std::string_view key;      // within it; empty: the whole section
};

constexpr std::array kFixedPaths = {
    FixedPath{"threads", ""},  // one io_context per worker, made at start
    FixedPath{"metrics", ""},  // its own listener and TLS, bound at start
    FixedPath{"admin", ""},    // likewise, and its state file
    FixedPath{"auth", "hash_threads"},
    FixedPath{"auth", "password_file"},  // its cache and revocation follow one file
    FixedPath{"auth", "jwt"},            // the token cache is keyed to these rules
    FixedPath{"auth", "ban"},            // the failures counted so far
};

int LineOf(const YAML::Node& node) { return node.Mark().line + 1; }

std::string Canonical(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

}  // namespace

std::string SectionYaml(const YAML::Node& root, const std::string& key) {
  if (!root.IsMap()) return "";
  const YAML::Node node = root[key];
  return node ? Canonical(node) : "";
}

std::vector<FixedSetting> ReadFixedSettings(const YAML::Node& root) {
  std::vector<FixedSetting> settings;
  for (const FixedPath& fixed : kFixedPaths) {
    FixedSetting& setting = settings.emplace_back();
    setting.path = fixed.key.empty()
                       ? std::string(fixed.section)
                       : absl::StrCat(std::string(fixed.section), ".", std::string(fixed.key));
    setting.line = 1;
    if (!root.IsMap()) continue;
    const YAML::Node section = root[std::string(fixed.section)];
    if (!section) continue;
    setting.line = LineOf(section);
    // Bound once: assigning to a YAML::Node would overwrite the node it refers to.
    const YAML::Node node =
        fixed.key.empty() || !section.IsMap() ? section : section[std::string(fixed.key)];
    if (!fixed.key.empty()) {
      if (!section.IsMap() || !node) continue;
      setting.line = LineOf(node);
    }
    setting.yaml = Canonical(node);
  }
  return settings;
}

std::vector<std::string> FixedSettingChanges(const std::vector<FixedSetting>& running,
                                             const std::vector<FixedSetting>& loaded,
                                             const std::string& file) {
  std::vector<std::string> changes;
  for (const FixedSetting& now : loaded) {
    for (const FixedSetting& before : running) {
      if (before.path != now.path || before.yaml == now.yaml) continue;
      changes.push_back(absl::StrCat(file, ":", now.line, ": ", now.path,
                                     " cannot change while moat runs (restart moat to apply it)"));
    }
  }
  return changes;
}

}  // namespace moat::config
