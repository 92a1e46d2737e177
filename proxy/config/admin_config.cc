#include "proxy/config/admin_config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace moat::config {
namespace {

// The state file is written by moat and need not exist yet; its folder must, so that a
// typo is found by --check-config rather than by the first ban.
std::optional<std::string> ReadStatePath(const Field& field, const std::filesystem::path& base_dir,
                                         Problems& problems) {
  const std::optional<std::string> text = ReadString(field, problems);
  if (!text) return std::nullopt;
  std::error_code error;
  const std::filesystem::path path = ResolvePath(*text, base_dir, error);
  const std::filesystem::path folder = path.parent_path();
  if (error || !std::filesystem::is_directory(folder, error) ||
      access(folder.c_str(), W_OK | X_OK) != 0) {
    problems.Add(field.line, absl::StrCat("'", field.path, "': the folder '", folder.string(),
                                          "' does not exist or is not writable"));
    return std::nullopt;
  }
  return path.string();
}

void ReadCtl(const Field& field, AdminCtl& ctl, const std::filesystem::path& base_dir,
             Problems& problems) {
  if (!ExpectMap(field, problems)) return;
  MapReader map(field.value, field.path, field.line, {"ca", "cert", "key", "server_name"},
                problems);
  if (const Field* f = map.Find("ca")) ctl.ca = ReadPath(*f, base_dir, problems).value_or("");
  if (const Field* f = map.Find("cert")) ctl.cert = ReadPath(*f, base_dir, problems).value_or("");
  if (const Field* f = map.Find("key")) ctl.key = ReadPath(*f, base_dir, problems).value_or("");
  if (const Field* f = map.Find("server_name")) {
    ctl.server_name = ReadString(*f, problems).value_or("");
  }
  if ((map.Find("cert") == nullptr) != (map.Find("key") == nullptr)) {
    problems.Add(field.line, "'admin.ctl' needs both 'cert' and 'key', or neither");
  }
}

bool IsLoopbackHost(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "[::1]" || host == "localhost";
}

}  // namespace

void ReadAdmin(const Field& field, Admin& admin, const std::filesystem::path& base_dir,
               Problems& problems,
               const std::function<std::optional<ServerTls>(const Field&)>& read_tls,
               const std::function<void(int line, std::string_view)>& warn) {
  if (field.value.IsNull() || !ExpectMap(field, problems)) return;
  MapReader map(field.value, field.path, field.line,
                {"bind", "bearer_token_file", "tls", "state_file", "ctl", "max_bans",
                 "max_body_bytes", "max_connections", "request_timeout"},
                problems);
  const Field* bind = map.Find("bind");
  if (bind == nullptr) {
    // Everything else configures an API that would never be opened: most likely the
    // bind line was lost, and the operator believes the API is there.
    if (!map.fields().empty()) {
      problems.Add(field.line,
                   "'admin' has settings but no 'bind': the admin API is off "
                   "unless admin.bind is set");
    }
    return;
  }
  admin.bind = ReadEndpoint(*bind, problems);
  if (const Field* f = map.Find("bearer_token_file")) {
    admin.bearer_token_file = ReadPath(*f, base_dir, problems).value_or("");
  }
  if (const Field* f = map.Find("tls")) admin.tls = read_tls(*f);
  if (const Field* f = map.Require("state_file")) {
    admin.state_file = ReadStatePath(*f, base_dir, problems).value_or("");
  }
  if (const Field* f = map.Find("ctl")) ReadCtl(*f, admin.ctl, base_dir, problems);
  if (const Field* f = map.Find("max_bans")) {
    admin.max_bans = static_cast<uint32_t>(ReadInt(*f, 1, 1'000'000, problems).value_or(1));
  }
  if (const Field* f = map.Find("max_body_bytes")) {
    admin.max_body_bytes =
        static_cast<uint32_t>(ReadInt(*f, 1024, 16 * 1024 * 1024, problems).value_or(1024));
  }
  if (const Field* f = map.Find("max_connections")) {
    admin.max_connections = static_cast<uint32_t>(ReadInt(*f, 1, 1024, problems).value_or(1));
  }
  if (const Field* f = map.Find("request_timeout")) {
    admin.request_timeout =
        ReadDuration(*f, std::chrono::milliseconds(100), std::chrono::minutes(5), problems)
            .value_or(admin.request_timeout);
  }
  // Never unauthenticated: a token, or client certificates checked against a CA. A
  // server certificate alone proves who moat is, not who the caller is.
  const Field* tls_field = map.Find("tls");
  const bool has_token = map.Find("bearer_token_file") != nullptr;
  const bool has_client_ca =
      tls_field != nullptr && tls_field->value.IsMap() && tls_field->value["client_ca"].IsDefined();
  if (!has_token && !has_client_ca) {
    problems.Add(bind->line,
                 "'admin.bind' is set but the admin API would be unauthenticated: give "
                 "'admin.bearer_token_file' or 'admin.tls.client_ca' (client certificates)");
  }
  if (has_token && tls_field == nullptr && admin.bind && !IsLoopbackHost(admin.bind->host)) {
    warn(bind->line,
         "the admin API's bearer token travels in clear text: set admin.tls, or "
         "bind to a loopback address");
  }
}

}  // namespace moat::config
