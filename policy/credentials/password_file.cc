// The password file reader follows mosquitto 2.0's pwfile__parse() and
// unpwd__decode_passwords() (src/security_default.c) line for line, but reports what they
// skip; the hashing follows pw__hash() (src/password_mosq.c).
#include "policy/credentials/password_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "policy/file_reading/file_text.h"
#include "policy/file_reading/problems.h"

namespace moat::policy {
namespace {

using file_reading::Problems;
using file_reading::Quote;
using file_reading::SplitLines;
using file_reading::SplitOn;
using file_reading::TrimSpace;

// ---- base64 ---------------------------------------------------------------------------

// mosquitto writes standard base64 with '=' padding (OpenSSL's BIO_f_base64). Only that
// exact form is accepted: no blanks, no missing padding, no stray bits after the last
// byte, so one entry has one spelling.
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (in.back() == '=') padding = in[in.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      const bool pad = last && j >= 4 - padding;
      const int v = pad ? 0 : Base64Value(in[i + j]);
      if (v < 0) return std::nullopt;
      group = (group << 6) | static_cast<uint32_t>(v);
    }
    const size_t bytes = last ? 3 - padding : 3;
    // Bits below the last full byte must be zero: otherwise two texts decode alike.
    if (bytes < 3 && (group & ((1u << (8 * (3 - bytes))) - 1)) != 0) return std::nullopt;
    for (size_t b = 0; b < bytes; ++b) out.push_back(static_cast<char>(group >> (16 - 8 * b)));
  }
  return out;
}

std::string Base64Encode(const uint8_t* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

// ---- hashing --------------------------------------------------------------------------

bool ComputeHash(HashType type, int iterations, const std::array<uint8_t, kSaltSize>& salt,
                 std::string_view password, std::array<uint8_t, kHashSize>& out) {
  if (type == HashType::kSha512) {
    // pw__hash(): SHA-512 over the password bytes, then the 12 salt bytes.
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned int len = 0;
    return ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) == 1 &&
           EVP_DigestUpdate(ctx.get(), password.data(), password.size()) == 1 &&
           EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) == 1 &&
           EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == kHashSize;
  }
  return iterations >= 1 &&
         PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha512(),
                           static_cast<int>(out.size()), out.data()) == 1;
}

// ---- parsing --------------------------------------------------------------------------

bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// The checks both the reader and ValidateUserName() make; nullopt if `user` is fine.
std::optional<std::string> UserNameProblem(std::string_view user) {
  if (user.empty()) return "empty user name";
  if (user.size() > kMaxUserNameSize) return "user name longer than 65535 bytes";
  // No MQTT client can send one [MQTT-1.5.3-2], and it would hide in log lines.
  if (HasControlCharacter(user)) return "user name contains a control character";
  return std::nullopt;
}

bool ParseIterations(std::string_view text, int& out) {
  // mosquitto uses atoi(), which takes "101abc" as 101 and "abc" as 0 (refused): moat
  // wants digits only, so a typo is reported instead of half-read.
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');  // at most 10 digits: no overflow
  if (value < 1 || value > INT_MAX) return false;
  out = static_cast<int>(value);
  return true;
}

// The part after the first ':', already trimmed. Adds problems and returns false if the
// hash is unusable; never quotes `field`.
bool ParseHash(std::string_view field, int line, Problems& problems, PasswordEntry& entry) {
  if (field.empty()) {
    problems.Add(line, "missing password hash after ':'");
    return false;
  }
  if (field[0] != '$') {
    problems.Add(line,
                 "password hash must start with $6$ or $7$ (a plain-text password file is "
                 "hashed by mosquitto_passwd -U)");
    return false;
  }
  const std::vector<std::string_view> parts = SplitOn(field.substr(1), '$');
  const std::string_view salt_text = parts.size() >= 2 ? parts[parts.size() - 2] : "";
  const std::string_view hash_text = parts.back();
  if (parts[0] == "6") {
    entry.type = HashType::kSha512;
    if (parts.size() != 3) {
      problems.Add(line, "a $6$ password hash must have the form $6$SALT$HASH");
      return false;
    }
  } else if (parts[0] == "7") {
    entry.type = HashType::kPbkdf2Sha512;
    if (parts.size() != 4) {
      problems.Add(line, "a $7$ password hash must have the form $7$ITERATIONS$SALT$HASH");
      return false;
    }
  } else {
    problems.Add(line, "unknown password hash type: expected $6$ (sha512) or $7$ (sha512-pbkdf2)");
    return false;
  }

  bool ok = true;
  if (entry.type == HashType::kPbkdf2Sha512 && !ParseIterations(parts[1], entry.iterations)) {
    problems.Add(line, "iteration count must be a whole number from 1 to 2147483647");
    ok = false;
  }
  const std::optional<std::string> salt = Base64Decode(salt_text);
  if (!salt) {
    problems.Add(line, "salt is not valid base64");
    ok = false;
  } else if (salt->size() != kSaltSize) {
    problems.Add(line,
                 absl::StrCat("salt is ", salt->size(), " bytes; mosquitto needs ", kSaltSize));
    ok = false;
  } else {
    std::memcpy(entry.salt.data(), salt->data(), kSaltSize);
  }
  const std::optional<std::string> hash = Base64Decode(hash_text);
  if (!hash) {
    problems.Add(line, "hash is not valid base64");
    ok = false;
  } else if (hash->size() != kHashSize) {
    problems.Add(line,
                 absl::StrCat("hash is ", hash->size(), " bytes; a SHA-512 hash is ", kHashSize));
    ok = false;
  } else {
    std::memcpy(entry.hash.data(), hash->data(), kHashSize);
  }
  return ok;
}

// ---- writing --------------------------------------------------------------------------

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int error) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      absl::StrCat(std::string(what), " ", path, ": ", std::strerror(error)));
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string FormatEntry(const PasswordEntry& entry) {
  const std::string salt = Base64Encode(entry.salt.data(), entry.salt.size());
  const std::string hash = Base64Encode(entry.hash.data(), entry.hash.size());
  if (entry.type == HashType::kSha512) return absl::StrCat(entry.user, ":$6$", salt, "$", hash);
  return absl::StrCat(entry.user, ":$7$", entry.iterations, "$", salt, "$", hash);
}

absl::Status ValidateUserName(std::string_view user) {
  if (std::optional<std::string> problem = UserNameProblem(user)) {
    return absl::InvalidArgumentError(*problem);
  }
  if (user.find(':') != std::string_view::npos) {
    return absl::InvalidArgumentError("user name contains ':'");
  }
  if (absl::ascii_isspace(static_cast<unsigned char>(user.front())) ||
      absl::ascii_isspace(static_cast<unsigned char>(user.back()))) {
    return absl::InvalidArgumentError("user name starts or ends with a blank");
  }
  if (user.front() == '#') {
    // mosquitto_passwd writes such a line, and the broker then skips it as a comment.
    return absl::InvalidArgumentError("user name starts with '#'");
  }
  return absl::OkStatus();
}

absl::StatusOr<PasswordEntry> MakePbkdf2Entry(std::string_view user, std::string_view password,
                                              int iterations) {
  if (absl::Status status = ValidateUserName(user); !status.ok()) return status;
  if (password.empty()) return absl::InvalidArgumentError("empty password");
  if (password.size() > kMaxPasswordSize) {
    return absl::InvalidArgumentError("password longer than 65535 bytes");
  }
  if (password.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("password contains a NUL byte");
  }
  if (iterations < 1) return absl::InvalidArgumentError("iteration count must be at least 1");
  PasswordEntry entry;
  entry.user = std::string(user);
  entry.type = HashType::kPbkdf2Sha512;
  entry.iterations = iterations;
  if (RAND_bytes(entry.salt.data(), static_cast<int>(entry.salt.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  if (!ComputeHash(entry.type, iterations, entry.salt, password, entry.hash)) {
    return absl::InternalError("PBKDF2-HMAC-SHA512 failed");
  }
  return entry;
}

absl::StatusOr<PasswordFile> PasswordFile::Load(const std::string& path) {
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "password file");
  if (!text.ok()) return text.status();
  return ParseFromString(*text, path);
}

absl::StatusOr<PasswordFile> PasswordFile::ParseFromString(std::string_view text,
                                                           std::string_view filename) {
  Problems problems(filename);
  PasswordFile file;
  std::map<std::string, int, std::less<>> first_line;  // user -> line it was first seen on
  const std::vector<std::string_view> lines = SplitLines(text);

  for (size_t i = 0; i < lines.size(); ++i) {
    const int number = static_cast<int>(i + 1);
    const std::string_view raw = lines[i];
    Line line{std::string(raw), std::nullopt};
    const std::string_view trimmed = TrimSpace(raw);
    // mosquitto: a '#' in the first column is a comment; a line without ':' is skipped,
    // which moat allows only for a blank one.
    if (raw.starts_with('#') || trimmed.empty()) {
      file.lines_.push_back(std::move(line));
      continue;
    }
    const size_t colon = raw.find(':');
    if (colon == std::string_view::npos) {
      problems.Add(number, trimmed.starts_with('#')
                               ? "missing ':' (a comment needs its '#' in the first column)"
                               : "missing ':' between user name and password hash");
      continue;
    }
    // mosquitto trims blanks (isspace) around both parts, so CRLF files work too.
    const std::string_view user = TrimSpace(raw.substr(0, colon));
    const std::string_view field = TrimSpace(raw.substr(colon + 1));
    PasswordEntry entry;
    bool ok = true;
    if (std::optional<std::string> problem = UserNameProblem(user)) {
      problems.Add(number, *problem);
      ok = false;
    } else if (auto [it, inserted] = first_line.emplace(std::string(user), number); !inserted) {
      // mosquitto keeps both in a hash table and one of them wins; which one is an
      // implementation detail nobody should rely on.
      problems.Add(number, absl::StrCat("duplicate user ", Quote(user), " (first on line ",
                                        it->second, ")"));
      ok = false;
    }
    ok = ParseHash(field, number, problems, entry) && ok;
    if (!ok) continue;
    entry.user = std::string(user);
    line.entry = std::move(entry);
    file.lines_.push_back(std::move(line));
  }
  if (!problems.empty()) return problems.ToStatus();
  file.Reindex();
  return file;
}

void PasswordFile::Reindex() {
  index_.clear();
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (lines_[i].entry) index_.emplace(lines_[i].entry->user, i);
  }
}

const PasswordEntry* PasswordFile::Find(std::string_view user) const {
  const auto it = index_.find(user);
  return it == index_.end() ? nullptr : &*lines_[it->second].entry;
}

std::vector<std::string> PasswordFile::Users() const {
  std::vector<std::string> users;
  for (const Line& line : lines_) {
    if (line.entry) users.push_back(line.entry->user);
  }
  return users;
}

VerifyResult PasswordFile::Verify(std::string_view user, std::string_view password) const {
  const PasswordEntry* entry = Find(user);
  std::array<uint8_t, kHashSize> computed{};
  if (entry == nullptr) {
    // Spend what a default entry costs, so a wrong user name answers no faster.
    static constexpr std::array<uint8_t, kSaltSize> kDummySalt{};
    ComputeHash(HashType::kPbkdf2Sha512, kMosquittoDefaultIterations, kDummySalt, password,
                computed);
    return VerifyResult::kUnknownUser;
  }
  const bool computed_ok =
      password.find('\0') == std::string_view::npos && password.size() <= kMaxPasswordSize &&
      ComputeHash(entry->type, entry->iterations, entry->salt, password, computed);
  const bool equal = CRYPTO_memcmp(computed.data(), entry->hash.data(), kHashSize) == 0;
  OPENSSL_cleanse(computed.data(), computed.size());
  return computed_ok && equal ? VerifyResult::kOk : VerifyResult::kBadPassword;
}

void PasswordFile::Put(PasswordEntry entry) {
  const auto it = index_.find(entry.user);
  std::string text = FormatEntry(entry);
  if (it != index_.end()) {
    lines_[it->second] = Line{std::move(text), std::move(entry)};
    return;
  }
  std::string user = entry.user;
  lines_.push_back(Line{std::move(text), std::move(entry)});
  index_.emplace(std::move(user), lines_.size() - 1);
}

bool PasswordFile::Remove(std::string_view user) {
  const auto it = index_.find(user);
  if (it == index_.end()) return false;
  lines_.erase(lines_.begin() + static_cast<std::ptrdiff_t>(it->second));
  Reindex();
  return true;
}

std::string PasswordFile::Serialize() const {
  std::string out;
  for (const Line& line : lines_) absl::StrAppend(&out, line.text, "\n");
  return out;
}

absl::Status PasswordFile::Save(const std::string& path) const {
  // Follow a symbolic link, so the rename replaces the file it points at, not the link.
  std::error_code ec;
  std::filesystem::path target = std::filesystem::path(path);
  if (std::filesystem::is_symlink(target, ec)) {
    target = std::filesystem::canonical(target, ec);
    if (ec) return ErrnoStatus("cannot resolve", path, ec.value());
  }
  const std::string target_path = target.string();

  mode_t mode = 0600;
  struct stat existing {};
  const bool exists = ::stat(target_path.c_str(), &existing) == 0;
  if (exists) {
    mode = existing.st_mode & 07777;
  } else if (errno != ENOENT) {
    return ErrnoStatus("cannot stat", target_path, errno);
  }

  std::filesystem::path folder = target.parent_path();
  if (folder.empty()) folder = ".";
  std::string temp =
      (folder / absl::StrCat(".", target.filename().string(), ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());  // mode 0600 from the start
  if (fd < 0) return ErrnoStatus("cannot create a temporary file in", folder.string(), errno);

  const std::string data = Serialize();
  int error = 0;
  if (!WriteAll(fd, data)) error = errno;
  if (error == 0 && ::fchmod(fd, mode) != 0) error = errno;
  // Keep the owner when editing someone else's file as root (the broker may run as
  // "mosquitto" and need to read it); an unprivileged user cannot and need not.
  if (error == 0 && exists && (existing.st_uid != ::geteuid() || existing.st_gid != ::getegid())) {
    if (::fchown(fd, existing.st_uid, existing.st_gid) != 0 && errno != EPERM) error = errno;
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temp.c_str(), target_path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temp.c_str());
    return ErrnoStatus("cannot write", target_path, error);
  }
  // Make the rename itself durable.
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace moat::policy
