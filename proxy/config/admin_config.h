// Reads the `admin:` section (README "Admin API"). Kept apart from config.cc, which reads
// every other section, because its rules are its own: the API must never be reachable
// without a login, so a config that would allow that is refused here, at its line.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace moat::config {

// `read_tls` reads a `tls:` map as a listener's (config.cc owns that reader). Warnings
// (valid, likely not meant) go to `warn`.
void ReadAdmin(const Field& field, Admin& admin, const std::filesystem::path& base_dir,
               Problems& problems,
               const std::function<std::optional<ServerTls>(const Field&)>& read_tls,
               const std::function<void(int line, std::string_view)>& warn);

}  // namespace moat::config
