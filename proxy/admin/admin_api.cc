#include "proxy/admin/admin_api.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "proxy/admin/ban_state_file.h"
#include "proxy/audit_log.h"

namespace moat::proxy::admin {
namespace {

namespace json = boost::json;
using metrics::AdminOutcome;

// A ban may last at most this long; longer is "until unbanned" (no duration).
constexpr absl::Duration kMaxBanDuration = absl::Hours(24 * 365 * 10);
constexpr size_t kMaxReason = 1024;

ApiResponse Ok(json::value body, unsigned status = 200) {
  return {status, AdminOutcome::kOk, json::serialize(body)};
}

ApiResponse Fail(unsigned status, AdminOutcome outcome, std::string_view message) {
  return {status, outcome, ErrorBody(message)};
}

void Audit(const ApiRequest& request, std::string_view action, std::string_view detail,
           std::string_view identity = {}, std::string_view client_id = {}) {
  if (AuditLog* log = AuditLog::Get()) {
    log->Write({.event = "admin",
                .reason = action,
                .identity = identity,
                .client_id = client_id,
                .address = request.address,
                .detail = detail,
                .actor = request.actor});
  }
}

// The request body as a JSON object; nullopt with `error` set otherwise.
std::optional<json::object> ParseObject(std::string_view body, std::string& error) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) {
    error = "the body is not JSON: " + ec.message();
    return std::nullopt;
  }
  if (!value.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  return std::move(value.as_object());
}

// A string field: nullopt when absent; `error` set when present but not a string.
std::optional<std::string> StringField(const json::object& object, std::string_view key,
                                       std::string& error) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    error = absl::StrCat("'", std::string(key), "' must be a string");
    return std::nullopt;
  }
  const json::string& text = value->as_string();
  return std::string(text.data(), text.size());
}

bool Covers(const ManualBan& ban, const policy::ClientIdentity& identity) {
  switch (ban.kind) {
    case BanKind::kUser:
      return identity.username == ban.value;
    case BanKind::kClientId:
      return identity.client_id == ban.value;
    case BanKind::kAddress:
      break;
  }
  const auto address = policy::ParseAddress(identity.address);
  return address && policy::CidrContains(ban.network, *address);
}

json::object SnapshotToJson(const SessionSnapshot& session) {
  json::object object;
  object["identity"] = session.identity;
  object["client_id"] = session.client_id;
  if (!session.cert_identity.empty()) object["cert_identity"] = session.cert_identity;
  object["address"] = session.address;
  object["listener"] = session.listener;
  object["protocol_version"] = session.protocol_version;
  object["connected_since"] =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(session.connected_since_ms),
                       absl::UTCTimeZone());
  object["bytes_from_client"] = session.bytes_from_client;
  object["bytes_from_broker"] = session.bytes_from_broker;
  object["messages_from_client"] = session.messages_from_client;
  object["messages_from_broker"] = session.messages_from_broker;
  json::array subscriptions;
  for (const auto& [filter, qos] : session.subscriptions) {
    subscriptions.push_back(json::object{{"filter", filter}, {"qos", qos}});
  }
  object["subscriptions"] = std::move(subscriptions);
  return object;
}

}  // namespace

std::string ErrorBody(std::string_view message) {
  return json::serialize(json::object{{"error", message}});
}

AdminApi::AdminApi(SessionControl& sessions, BanStore& bans, std::string state_file, Clock now,
                   policy::BanList* automatic)
    : sessions_(sessions),
      bans_(bans),
      state_file_(std::move(state_file)),
      now_(std::move(now)),
      automatic_(automatic) {}

ApiResponse AdminApi::Handle(const ApiRequest& request) {
  struct Route {
    std::string_view method;
    std::string_view path;
    ApiResponse (AdminApi::*handler)(const ApiRequest&);
  };
  static constexpr Route kRoutes[] = {
      {"GET", "/v1/sessions", &AdminApi::ListSessions},
      {"POST", "/v1/sessions/kick", &AdminApi::Kick},
      {"GET", "/v1/bans", &AdminApi::ListBans},
      {"POST", "/v1/bans", &AdminApi::AddBan},
      {"POST", "/v1/bans/remove", &AdminApi::RemoveBan},
      {"GET", "/v1/bans/automatic", &AdminApi::ListAutomaticBans},
      {"POST", "/v1/bans/automatic/remove", &AdminApi::LiftAutomaticBan},
  };
  bool path_known = false;
  for (const Route& route : kRoutes) {
    if (route.path != request.path) continue;
    path_known = true;
    if (route.method == request.method) return (this->*route.handler)(request);
  }
  if (path_known) return Fail(405, AdminOutcome::kBadRequest, "method not allowed");
  return Fail(404, AdminOutcome::kNotFound, "no such endpoint");
}

ApiResponse AdminApi::ListSessions(const ApiRequest& request) {
  const auto sessions = sessions_.List();
  if (!sessions) return Fail(503, AdminOutcome::kError, "the workers did not answer in time");
  json::array list;
  for (const SessionSnapshot& session : *sessions) list.push_back(SnapshotToJson(session));
  Audit(request, "list_sessions", absl::StrCat(sessions->size(), " sessions"));
  return Ok(json::object{{"sessions", std::move(list)}});
}

ApiResponse AdminApi::Kick(const ApiRequest& request) {
  std::string error;
  const std::optional<json::object> body = ParseObject(request.body, error);
  std::optional<std::string> client_id, identity;
  if (body) client_id = StringField(*body, "client_id", error);
  if (body) identity = StringField(*body, "identity", error);
  if (error.empty() && client_id.has_value() == identity.has_value()) {
    error = "give one of 'client_id' and 'identity'";
  }
  if (!error.empty()) return Fail(400, AdminOutcome::kBadRequest, error);
  // By value: a worker late past the timeout still runs it after this returns.
  const auto ended = sessions_.End([client_id, identity](const policy::ClientIdentity& session) {
    return client_id ? session.client_id == *client_id : session.username == *identity;
  });
  if (!ended) return Fail(503, AdminOutcome::kError, "the workers did not answer in time");
  Audit(request, "kick", absl::StrCat(*ended, " sessions ended"), identity.value_or(""),
        client_id.value_or(""));
  if (*ended == 0) return Fail(404, AdminOutcome::kNotFound, "no such session");
  return Ok(json::object{{"sessions_ended", *ended}});
}

ApiResponse AdminApi::ListBans(const ApiRequest& request) {
  json::array list;
  const std::vector<ManualBan> bans = bans_.List(now_());
  for (const ManualBan& ban : bans) list.push_back(BanToJson(ban));
  Audit(request, "list_bans", absl::StrCat(bans.size(), " bans"));
  return Ok(json::object{{"bans", std::move(list)}});
}

ApiResponse AdminApi::AddBan(const ApiRequest& request) {
  std::string error;
  const std::optional<json::object> body = ParseObject(request.body, error);
  std::optional<std::string> target, duration, reason;
  if (body) target = StringField(*body, "target", error);
  if (body) duration = StringField(*body, "duration", error);
  if (body) reason = StringField(*body, "reason", error);
  if (error.empty() && !target) error = "'target' is required";
  if (!error.empty()) return Fail(400, AdminOutcome::kBadRequest, error);
  absl::StatusOr<ManualBan> ban = ParseBanTarget(*target);
  if (!ban.ok()) return Fail(400, AdminOutcome::kBadRequest, std::string(ban.status().message()));
  const int64_t now = now_();
  if (duration) {
    absl::Duration length;
    if (!absl::ParseDuration(*duration, &length) || length <= absl::ZeroDuration() ||
        length > kMaxBanDuration) {
      return Fail(400, AdminOutcome::kBadRequest,
                  "'duration' must be like 90s, 30m or 12h, more than 0 and at most 10 years");
    }
    ban->expires_at = now + absl::ToInt64Seconds(length);
  }
  ban->reason = reason.value_or("");
  if (ban->reason.size() > kMaxReason) {
    return Fail(400, AdminOutcome::kBadRequest, "'reason' is longer than 1024 bytes");
  }
  ban->created_by = std::string(request.actor);
  ban->created_at = now;
  const ManualBan added = *ban;
  {
    std::lock_guard lock(write_mutex_);
    const std::vector<ManualBan> before = bans_.List(now);
    if (absl::Status status = bans_.Add(*std::move(ban), now); !status.ok()) {
      return Fail(507, AdminOutcome::kBanLimit, std::string(status.message()));
    }
    if (absl::Status saved = SaveBanState(state_file_, bans_.List(now)); !saved.ok()) {
      bans_.Replace(before, now);  // a ban that would vanish at restart is not promised
      return Fail(500, AdminOutcome::kError, std::string(saved.message()));
    }
  }
  const auto ended = sessions_.End(
      [added](const policy::ClientIdentity& session) { return Covers(added, session); });
  Audit(request, "ban",
        absl::StrCat(added.Target(), added.expires_at ? "" : " (until unbanned)",
                     added.reason.empty() ? "" : ": " + added.reason));
  json::object answer{{"ban", BanToJson(added)}};
  if (ended) answer["sessions_ended"] = *ended;
  return Ok(std::move(answer), 201);
}

ApiResponse AdminApi::RemoveBan(const ApiRequest& request) {
  std::string error;
  const std::optional<json::object> body = ParseObject(request.body, error);
  std::optional<std::string> target;
  if (body) target = StringField(*body, "target", error);
  if (error.empty() && !target) error = "'target' is required";
  if (!error.empty()) return Fail(400, AdminOutcome::kBadRequest, error);
  absl::StatusOr<ManualBan> ban = ParseBanTarget(*target);
  if (!ban.ok()) return Fail(400, AdminOutcome::kBadRequest, std::string(ban.status().message()));
  const int64_t now = now_();
  {
    std::lock_guard lock(write_mutex_);
    const std::vector<ManualBan> before = bans_.List(now);
    if (!bans_.Remove(ban->kind, ban->value, now)) {
      return Fail(404, AdminOutcome::kNotFound, "no such ban");
    }
    if (absl::Status saved = SaveBanState(state_file_, bans_.List(now)); !saved.ok()) {
      bans_.Replace(before, now);
      return Fail(500, AdminOutcome::kError, std::string(saved.message()));
    }
  }
  Audit(request, "unban", ban->Target());
  return Ok(json::object{{"removed", ban->Target()}});
}

// Listing is bounded like everything else the API answers: past this many the answer
// says it is truncated (the ban list itself holds at most 100,000 entries).
constexpr size_t kMaxListedAutomaticBans = 10'000;

ApiResponse AdminApi::ListAutomaticBans(const ApiRequest& request) {
  json::array list;
  bool truncated = false;
  if (automatic_ != nullptr) {
    const auto bans =
        automatic_->Active(policy::BanList::Clock::now(), kMaxListedAutomaticBans + 1);
    truncated = bans.size() > kMaxListedAutomaticBans;
    for (size_t i = 0; i < bans.size() && i < kMaxListedAutomaticBans; ++i) {
      json::object ban{{"address", bans[i].address},
                       {"expires_in_seconds",
                        std::chrono::ceil<std::chrono::seconds>(bans[i].remaining).count()}};
      if (!bans[i].user.empty()) ban["user"] = bans[i].user;
      list.push_back(std::move(ban));
    }
  }
  Audit(request, "list_automatic_bans", absl::StrCat(list.size(), " bans"));
  return Ok(json::object{{"bans", std::move(list)}, {"truncated", truncated}});
}

ApiResponse AdminApi::LiftAutomaticBan(const ApiRequest& request) {
  std::string error;
  const std::optional<json::object> body = ParseObject(request.body, error);
  std::optional<std::string> address, user;
  if (body) address = StringField(*body, "address", error);
  if (body) user = StringField(*body, "user", error);
  if (error.empty() && !address) error = "'address' is required";
  if (!error.empty()) return Fail(400, AdminOutcome::kBadRequest, error);
  if (automatic_ == nullptr ||
      !automatic_->Lift(*address, user.value_or(""), policy::BanList::Clock::now())) {
    return Fail(404, AdminOutcome::kNotFound, "no such automatic ban in force");
  }
  Audit(request, "lift_automatic_ban", *address, user.value_or(""));
  return Ok(json::object{{"lifted", true}});
}

}  // namespace moat::proxy::admin
