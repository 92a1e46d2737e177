// mosquitto-compatible password files: parse, verify, edit, write back. Sans-IO apart
// from Load() and Save(); no sockets, no logging.
//
//   text --ParseFromString()--> PasswordFile --Verify(user, password)--> VerifyResult
//    ^                              |    ^
//    |                              |    +-- Put(MakePbkdf2Entry(...)) / Remove(user)
//    +--------- Serialize() <-------+
//
// The format is what mosquitto 2.0 reads (src/security_default.c) and mosquitto_passwd
// writes (apps/mosquitto_passwd/, src/password_mosq.c), one user per line:
//
//   user:$6$SALT$HASH              HASH = SHA-512(password || salt)
//   user:$7$ITERATIONS$SALT$HASH   HASH = PBKDF2-HMAC-SHA-512(password, salt, ITERATIONS, 64)
//
// SALT and HASH are standard base64 with padding; the salt is exactly 12 bytes and the
// hash 64, as mosquitto requires. mosquitto skips a line starting with '#' and a line
// without ':', and trims blanks around the user name and the hash. moat accepts the same
// lines and means the same by them, but where mosquitto skips a malformed line (making its
// user unable to log in, silently), moat reports every problem as "FILE:LINE: message" and
// refuses the file. Messages never quote the hash field: it may be a plain-text password.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace moat::policy {

// PW_DEFAULT_ITERATIONS in mosquitto 2.0 (src/password_mosq.h): what mosquitto_passwd
// writes unless given -I.
inline constexpr int kMosquittoDefaultIterations = 101;
inline constexpr size_t kSaltSize = 12;  // SALT_LEN; mosquitto refuses any other length
inline constexpr size_t kHashSize = 64;  // SHA-512
// An MQTT user name or password is at most 65535 bytes [MQTT-1.5.3]; mosquitto refuses
// longer ones in the file too.
inline constexpr size_t kMaxUserNameSize = 65535;
inline constexpr size_t kMaxPasswordSize = 65535;

enum class HashType : uint8_t {
  kSha512 = 6,        // $6$: one salted SHA-512, mosquitto 1.x's default
  kPbkdf2Sha512 = 7,  // $7$: PBKDF2-HMAC-SHA-512, mosquitto 2.0's default
};

struct PasswordEntry {
  std::string user;
  HashType type = HashType::kPbkdf2Sha512;
  int iterations = 0;  // $7$ only; 0 for $6$
  std::array<uint8_t, kSaltSize> salt{};
  std::array<uint8_t, kHashSize> hash{};
};

enum class VerifyResult : uint8_t { kOk, kUnknownUser, kBadPassword };

// "user:$7$101$SALT$HASH" (or "user:$6$SALT$HASH"), without a newline, exactly as
// mosquitto_passwd writes it.
std::string FormatEntry(const PasswordEntry& entry);

// Whether `user` can be written to a password file and read back as the same name by
// mosquitto: 1 to 65535 bytes, no ':' or control character, no blank at either end (the
// broker trims them) and no '#' first (the broker would skip the line as a comment).
absl::Status ValidateUserName(std::string_view user);

// A new $7$ entry with a fresh 12-byte salt from RAND_bytes. InvalidArgument for a bad
// user name (ValidateUserName), an empty password, a password with a NUL byte (mosquitto
// hashes up to the first NUL) or over 65535 bytes, or iterations < 1; Internal if the
// random generator or PBKDF2 fails.
absl::StatusOr<PasswordEntry> MakePbkdf2Entry(std::string_view user, std::string_view password,
                                              int iterations = kMosquittoDefaultIterations);

class PasswordFile {
 public:
  PasswordFile() = default;  // an empty file

  // Reads and parses `path`. Every problem comes back in one InvalidArgument status, one
  // "FILE:LINE: message" per line, ordered by line; an unreadable file is reported at
  // line 1.
  static absl::StatusOr<PasswordFile> Load(const std::string& path);
  // The same for text already in memory; `filename` only prefixes the messages.
  static absl::StatusOr<PasswordFile> ParseFromString(std::string_view text,
                                                      std::string_view filename);

  // Hashes `password` the way the user's entry says and compares in constant time. An
  // unknown user costs one default PBKDF2 too, so timing does not reveal which user names
  // exist. A password holding a NUL byte never matches (mosquitto would compare only up
  // to the NUL, so "pw\0anything" would pass for "pw" there: moat refuses instead).
  VerifyResult Verify(std::string_view user, std::string_view password) const;

  const PasswordEntry* Find(std::string_view user) const;
  size_t size() const { return index_.size(); }
  std::vector<std::string> Users() const;  // in file order

  // Replaces the user's entry where it stands, or appends it after the last line.
  // entry.user must pass ValidateUserName() (MakePbkdf2Entry() sees to that).
  void Put(PasswordEntry entry);
  // False if the user has no entry.
  bool Remove(std::string_view user);

  // Every line in its original order and text (comments and blank lines included), with
  // entries changed by Put() in FormatEntry() form; each line ends with '\n'.
  std::string Serialize() const;
  // Writes Serialize() to `path` atomically: a temporary file next to the target,
  // fsync, rename, fsync of the folder. A new file gets mode 0600; an existing one keeps
  // its mode and (when permitted) its owner. A symbolic link is followed, not replaced.
  absl::Status Save(const std::string& path) const;

 private:
  struct Line {
    std::string text;                    // as read, without '\n'; or FormatEntry()
    std::optional<PasswordEntry> entry;  // none for a comment or blank line
  };

  void Reindex();

  std::vector<Line> lines_;
  std::map<std::string, size_t, std::less<>> index_;  // user -> index into lines_
};

}  // namespace moat::policy
