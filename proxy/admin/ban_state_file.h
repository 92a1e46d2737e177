// The manual bans on disk (admin.state_file), so they survive a restart:
//   {"version": 1, "bans": [{"target": "192.0.2.0/24", "reason": "...", "created_by":
//    "bearer", "created_at": 1765000000, "expires_at": 1765003600}, ...]}
// ("expires_at": null for a ban until unbanned). Written whole on every change: to a
// temporary file in the same folder, fsync'd, renamed over the old one, and the folder
// fsync'd, so a crash leaves the old file or the new one, never half of either.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/admin/ban_store.h"

namespace moat::proxy::admin {

// One ban as the API and the state file spell it.
boost::json::object BanToJson(const ManualBan& ban);

// The bans in `path`; none when it does not exist yet. Errors name the file (and the
// entry), as a config error would.
absl::StatusOr<std::vector<ManualBan>> LoadBanState(const std::string& path);
absl::Status SaveBanState(const std::string& path, const std::vector<ManualBan>& bans);

}  // namespace moat::proxy::admin
