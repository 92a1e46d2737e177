// The admin API's endpoints, apart from HTTP: a method, a path, a JSON body and the
// authenticated caller in; a status, a JSON body and an outcome for the metrics out
// (README "Admin API"):
//
//   GET  /v1/sessions          every admitted session
//   POST /v1/sessions/kick     {"client_id": ID} or {"identity": NAME}: end those sessions
//   GET  /v1/bans              the manual bans in force
//   POST /v1/bans              {"target": T, "duration": "1h", "reason": R}: ban, and end
//                              the live sessions the ban covers
//   POST /v1/bans/remove       {"target": T}
//   GET  /v1/bans/automatic    the bans moat made after failed logins (auth.ban)
//   POST /v1/bans/automatic/remove  {"address": A, "user": U (optional)}: unlock it
//
// Every action (reading included) is an audit line naming the caller. A ban is on disk
// (admin.state_file) before it is answered; if it cannot be written the ban is undone.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "metrics/registry.h"
#include "policy/auth/ban_list.h"
#include "proxy/admin/ban_store.h"
#include "proxy/admin/session_control.h"

namespace moat::proxy::admin {

struct ApiRequest {
  std::string_view method{};  // "GET", "POST", ...
  std::string_view path{};    // without the query
  std::string_view body{};
  std::string_view actor{};    // AdminCaller::actor
  std::string_view address{};  // the caller's, for the audit line
};

struct ApiResponse {
  unsigned status = 200;
  metrics::AdminOutcome outcome = metrics::AdminOutcome::kOk;
  std::string body;  // JSON, one line
};

class AdminApi {
 public:
  using Clock = std::function<int64_t()>;  // Unix seconds

  // `automatic`: the bans moat made after failed logins (auth.ban); null with "ban: off".
  AdminApi(SessionControl& sessions, BanStore& bans, std::string state_file, Clock now,
           policy::BanList* automatic = nullptr);

  ApiResponse Handle(const ApiRequest& request);

 private:
  ApiResponse ListSessions(const ApiRequest& request);
  ApiResponse Kick(const ApiRequest& request);
  ApiResponse ListBans(const ApiRequest& request);
  ApiResponse AddBan(const ApiRequest& request);
  ApiResponse RemoveBan(const ApiRequest& request);
  ApiResponse ListAutomaticBans(const ApiRequest& request);
  ApiResponse LiftAutomaticBan(const ApiRequest& request);

  SessionControl& sessions_;
  BanStore& bans_;
  const std::string state_file_;
  const Clock now_;
  policy::BanList* const automatic_;
  std::mutex write_mutex_;  // one change to the bans and the state file at a time
};

// A JSON error body: {"error": message}.
std::string ErrorBody(std::string_view message);

}  // namespace moat::proxy::admin
