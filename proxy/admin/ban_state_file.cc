#include "proxy/admin/ban_state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "policy/file_reading/file_text.h"

namespace moat::proxy::admin {
namespace {

namespace json = boost::json;

absl::Status Errno(const std::string& path, std::string_view what) {
  return absl::InternalError(
      absl::StrCat(path, ": ", std::string(what), ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return Errno(path, "cannot write");
    }
    text.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

std::string Text(const json::string& text) { return std::string(text.data(), text.size()); }

absl::StatusOr<ManualBan> BanFromJson(const json::value& entry) {
  const json::object* object = entry.if_object();
  if (object == nullptr) return absl::InvalidArgumentError("not an object");
  const json::value* target = object->if_contains("target");
  if (target == nullptr || !target->is_string()) {
    return absl::InvalidArgumentError("no \"target\" string");
  }
  absl::StatusOr<ManualBan> ban = ParseBanTarget(Text(target->as_string()));
  if (!ban.ok()) return ban.status();
  if (const json::value* v = object->if_contains("expires_at"); v && v->is_int64()) {
    ban->expires_at = v->as_int64();
  }
  if (const json::value* v = object->if_contains("created_at"); v && v->is_int64()) {
    ban->created_at = v->as_int64();
  }
  if (const json::value* v = object->if_contains("reason"); v && v->is_string()) {
    ban->reason = Text(v->as_string());
  }
  if (const json::value* v = object->if_contains("created_by"); v && v->is_string()) {
    ban->created_by = Text(v->as_string());
  }
  return ban;
}

}  // namespace

json::object BanToJson(const ManualBan& ban) {
  json::object object;
  object["target"] = ban.Target();
  object["reason"] = ban.reason;
  object["created_by"] = ban.created_by;
  object["created_at"] = ban.created_at;
  if (ban.expires_at) {
    object["expires_at"] = *ban.expires_at;
  } else {
    object["expires_at"] = nullptr;
  }
  return object;
}

absl::StatusOr<std::vector<ManualBan>> LoadBanState(const std::string& path) {
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error)) return std::vector<ManualBan>{};
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "admin state file");
  if (!text.ok()) return text.status();
  boost::system::error_code ec;
  const json::value root = json::parse(*text, ec);
  const json::object* object = ec ? nullptr : root.if_object();
  const json::value* list = object ? object->if_contains("bans") : nullptr;
  if (list == nullptr || !list->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an admin state file (JSON with a \"bans\" list)",
                     ec ? ": " + ec.message() : ""));
  }
  std::vector<ManualBan> bans;
  size_t index = 0;
  for (const json::value& entry : list->as_array()) {
    absl::StatusOr<ManualBan> ban = BanFromJson(entry);
    if (!ban.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": bans[", index, "]: ", ban.status().message()));
    }
    bans.push_back(*std::move(ban));
    ++index;
  }
  return bans;
}

absl::Status SaveBanState(const std::string& path, const std::vector<ManualBan>& bans) {
  json::array list;
  for (const ManualBan& ban : bans) list.push_back(BanToJson(ban));
  json::object root;
  root["version"] = 1;
  root["bans"] = std::move(list);
  const std::string text = json::serialize(root) + "\n";

  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(temporary, "cannot create");
  absl::Status status = WriteAll(fd, text, temporary);
  if (status.ok() && ::fsync(fd) != 0) status = Errno(temporary, "cannot fsync");
  if (::close(fd) != 0 && status.ok()) status = Errno(temporary, "cannot close");
  if (status.ok() && std::rename(temporary.c_str(), path.c_str()) != 0) {
    status = Errno(path, "cannot rename the new state file into place");
  }
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  // The rename is durable only once the folder holding the name is.
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace moat::proxy::admin
