#pragma once

#include <string>

namespace moat::proxy {

// `moat --check-config`: loads the config and everything it names (certificates and
// keys included) without binding anything; prints every problem to stderr, one per line.
bool CheckConfig(const std::string& path);

}  // namespace moat::proxy
