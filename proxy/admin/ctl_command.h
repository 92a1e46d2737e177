// `moat ctl --config FILE COMMAND ...` (shared/CONTRACT.md): the admin API from the
// command line. Prints the API's JSON answer on stdout; exit 0 when it says the request
// succeeded, 1 otherwise (the error on stderr).
#pragma once

#include <string_view>
#include <vector>

namespace moat::proxy::admin {

int RunCtl(const std::vector<std::string_view>& args);

}  // namespace moat::proxy::admin
