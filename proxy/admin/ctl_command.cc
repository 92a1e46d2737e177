#include "proxy/admin/ctl_command.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "proxy/admin/ctl_client.h"
#include "proxy/config/config.h"

namespace moat::proxy::admin {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
// The API waits at most this long for the workers; a little more for the network.
constexpr std::chrono::seconds kTimeout(15);

int Usage() {
  std::fputs(
      "usage: moat ctl --config FILE sessions\n"
      "       moat ctl --config FILE kick CLIENT_ID\n"
      "       moat ctl --config FILE kick --identity NAME\n"
      "       moat ctl --config FILE ban ADDRESS|CIDR|user:NAME|client:ID [--for DURATION]\n"
      "                                  [--reason TEXT]\n"
      "       moat ctl --config FILE unban ADDRESS|CIDR|user:NAME|client:ID\n"
      "       moat ctl --config FILE bans\n"
      "       moat ctl --config FILE autobans\n"
      "       moat ctl --config FILE unlock ADDRESS [--user NAME]\n",
      stderr);
  return kExitFailed;
}

struct Call {
  std::string_view method;
  std::string_view path;
  std::string body;
};

// The API call `words` (what follows --config FILE) asks for; nullopt for a usage error.
std::optional<Call> ParseCall(const std::vector<std::string_view>& words) {
  if (words.empty()) return std::nullopt;
  const std::string_view command = words[0];
  namespace json = boost::json;
  if (command == "sessions" && words.size() == 1) return Call{"GET", "/v1/sessions", ""};
  if (command == "bans" && words.size() == 1) return Call{"GET", "/v1/bans", ""};
  if (command == "autobans" && words.size() == 1) return Call{"GET", "/v1/bans/automatic", ""};
  if (command == "unlock" && (words.size() == 2 || (words.size() == 4 && words[2] == "--user"))) {
    json::object body{{"address", words[1]}};
    if (words.size() == 4) body["user"] = words[3];
    return Call{"POST", "/v1/bans/automatic/remove", json::serialize(body)};
  }
  if (command == "kick" && words.size() == 2) {
    return Call{"POST", "/v1/sessions/kick",
                json::serialize(json::object{{"client_id", words[1]}})};
  }
  if (command == "kick" && words.size() == 3 && words[1] == "--identity") {
    return Call{"POST", "/v1/sessions/kick", json::serialize(json::object{{"identity", words[2]}})};
  }
  if (command == "unban" && words.size() == 2) {
    return Call{"POST", "/v1/bans/remove", json::serialize(json::object{{"target", words[1]}})};
  }
  if (command == "ban" && words.size() >= 2) {
    json::object body{{"target", words[1]}};
    for (size_t i = 2; i < words.size(); i += 2) {
      if (i + 1 >= words.size()) return std::nullopt;
      if (words[i] == "--for") {
        body["duration"] = words[i + 1];
      } else if (words[i] == "--reason") {
        body["reason"] = words[i + 1];
      } else {
        return std::nullopt;
      }
    }
    return Call{"POST", "/v1/bans", json::serialize(body)};
  }
  return std::nullopt;
}

}  // namespace

int RunCtl(const std::vector<std::string_view>& args) {
  if (args.size() < 3 || args[0] != "--config") return Usage();
  const std::optional<Call> call = ParseCall({args.begin() + 2, args.end()});
  if (!call) return Usage();
  const absl::StatusOr<config::Config> config = config::LoadConfig(std::string(args[1]));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return kExitFailed;
  }
  const absl::StatusOr<CtlResponse> response =
      SendAdminRequest(config->admin, call->method, call->path, call->body, kTimeout);
  if (!response.ok()) {
    std::fprintf(stderr, "moat ctl: %s\n", std::string(response.status().message()).c_str());
    return kExitFailed;
  }
  const bool ok = response->status >= 200 && response->status < 300;
  std::fprintf(ok ? stdout : stderr, "%s\n", response->body.c_str());
  if (!ok) std::fprintf(stderr, "moat ctl: the admin API answered HTTP %u\n", response->status);
  return ok ? kExitOk : kExitFailed;
}

}  // namespace moat::proxy::admin
