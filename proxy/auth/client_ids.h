// Which identity a client id belongs to. A CONNECT with a client id that a live session
// of another identity holds would, at the broker, end that session and take it over; with
// a persistent session it would inherit the messages queued for the owner. So such a
// CONNECT is refused. Client ids last used with a persistent session stay their identity's
// after it disconnects (bounded: the least recently used are forgotten first). Shared by
// every worker; only admissions and session ends take its lock.
//
// One process sees only its own clients: behind several moat replicas a client id is
// protected only where the same replica sees both connections.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace moat::proxy {

class ClientIds {
 public:
  explicit ClientIds(size_t max_remembered = 100'000) : max_remembered_(max_remembered) {}

  // What a client is known by: its user name and certificate identity.
  static std::string IdentityKey(std::string_view username, std::string_view cert_identity);
  static constexpr std::string_view kAnonymous{"\0", 1};  // IdentityKey("", "")

  // Takes `client_id` for `identity`; false when another identity holds it (live) or last
  // held it with a persistent session. `persistent`: the broker keeps the session after
  // the client leaves (clean start off, or an MQTT 5 session expiry). Anonymous clients
  // own nothing, so they are only checked: true means allowed, and nothing to release.
  bool Claim(std::string_view client_id, std::string_view identity, bool persistent);
  // The session that claimed `client_id` ended.
  void Release(std::string_view client_id);

  size_t size() const;  // for tests

 private:
  struct Holder {
    std::string identity;
    uint32_t live = 0;
    bool persistent = false;
    std::list<std::string>::iterator recent;  // in recent_ when remembered without a session
  };
  void Forget(std::unordered_map<std::string, Holder>::iterator it);

  const size_t max_remembered_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Holder> holders_;
  std::list<std::string> recent_;  // client ids remembered with no live session, oldest first
};

}  // namespace moat::proxy
