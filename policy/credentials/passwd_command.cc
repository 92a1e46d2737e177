// `moat passwd`: argument parsing, password input (termios on a tty) and the
// load -> edit -> atomic save of the password file.
#include "policy/credentials/passwd_command.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/credentials/password_file.h"

namespace moat::policy {
namespace {

constexpr std::string_view kUsage =
    "usage: moat passwd FILE USER      add or update USER; the password is read from "
    "stdin\n"
    "       moat passwd -D FILE USER   delete USER\n";

struct Args {
  bool remove = false;
  std::string file;
  std::string user;
};

std::optional<Args> ParseArgs(const std::vector<std::string>& args, std::ostream& err) {
  Args parsed;
  std::vector<std::string> positional;
  bool options_done = false;
  for (const std::string& arg : args) {
    if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && arg == "-D") {
      parsed.remove = true;
    } else if (!options_done && arg.size() > 1 && arg[0] == '-') {
      err << "moat passwd: unknown option " << arg << "\n" << kUsage;
      return std::nullopt;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    err << kUsage;
    return std::nullopt;
  }
  parsed.file = positional[0];
  parsed.user = positional[1];
  return parsed;
}

// A password lives in this string only; it is wiped when it goes out of scope.
class Secret {
 public:
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { OPENSSL_cleanse(text.data(), text.size()); }
  std::string text;
};

// Echo stays off while a password is typed. A signal that ends the process meanwhile
// must not leave the terminal silent: the handler puts the saved settings back and
// re-raises it with the default action.
volatile sig_atomic_t g_tty_fd = -1;
struct termios g_saved_tty;

extern "C" void RestoreTtyAndReraise(int sig) {
  if (g_tty_fd >= 0) tcsetattr(g_tty_fd, TCSANOW, &g_saved_tty);
  signal(sig, SIG_DFL);
  raise(sig);
}

class EchoOff {
 public:
  explicit EchoOff(int fd) {
    if (tcgetattr(fd, &g_saved_tty) != 0) return;
    struct termios quiet = g_saved_tty;
    // Keep ICANON (mosquitto_passwd clears it), so backspace still edits the line;
    // ECHONL shows the Enter key, so the next prompt starts on a new line.
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    g_tty_fd = fd;
    struct sigaction action {};
    action.sa_handler = RestoreTtyAndReraise;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &old_[i]);
    ok_ = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (g_tty_fd < 0) return;
    tcsetattr(g_tty_fd, TCSANOW, &g_saved_tty);
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &old_[i], nullptr);
    g_tty_fd = -1;
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  bool ok() const { return ok_; }

 private:
  static constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  std::array<struct sigaction, 4> old_{};
  bool ok_ = false;
};

enum class ReadStatus { kOk, kEof, kTooLong, kError };

// One line from `fd`, read a byte at a time so nothing after the newline is consumed.
// The newline and one '\r' before it are dropped, as mosquitto_passwd does.
ReadStatus ReadLine(int fd, Secret& out) {
  bool got_any = false;
  while (true) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReadStatus::kError;
    if (n == 0) break;
    got_any = true;
    if (c == '\n') break;
    if (out.text.size() > kMaxPasswordSize) return ReadStatus::kTooLong;
    out.text.push_back(c);
  }
  if (!out.text.empty() && out.text.back() == '\r') out.text.pop_back();
  if (out.text.size() > kMaxPasswordSize) return ReadStatus::kTooLong;
  return got_any ? ReadStatus::kOk : ReadStatus::kEof;
}

bool ReadPasswordLine(int fd, Secret& out, std::ostream& err) {
  switch (ReadLine(fd, out)) {
    case ReadStatus::kOk:
      break;
    case ReadStatus::kEof:
      err << "moat passwd: no password on stdin\n";
      return false;
    case ReadStatus::kTooLong:
      err << "moat passwd: password longer than 65535 bytes\n";
      return false;
    case ReadStatus::kError:
      err << "moat passwd: cannot read stdin: " << std::strerror(errno) << "\n";
      return false;
  }
  if (out.text.empty()) {
    err << "moat passwd: empty password\n";
    return false;
  }
  return true;
}

bool ReadPassword(int fd, bool is_tty, Secret& password, std::ostream& err) {
  if (!is_tty) return ReadPasswordLine(fd, password, err);
  EchoOff echo_off(fd);
  if (!echo_off.ok()) {
    err << "moat passwd: cannot turn off echo on the terminal: " << std::strerror(errno) << "\n";
    return false;
  }
  err << "Password: " << std::flush;
  if (!ReadPasswordLine(fd, password, err)) return false;
  Secret again;
  err << "Reenter password: " << std::flush;
  if (!ReadPasswordLine(fd, again, err)) return false;
  if (password.text != again.text) {
    err << "moat passwd: passwords do not match\n";
    return false;
  }
  return true;
}

// The file as it is, an empty one if it does not exist yet (when `may_create`), or
// nullopt after printing why not.
std::optional<PasswordFile> LoadForEdit(const std::string& path, bool may_create,
                                        std::ostream& err) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (!exists && !ec && may_create) return PasswordFile();
  absl::StatusOr<PasswordFile> file = PasswordFile::Load(path);
  if (!file.ok()) {
    err << file.status().message() << "\nmoat passwd: " << path << " left unchanged\n";
    return std::nullopt;
  }
  return *std::move(file);
}

}  // namespace

int RunPasswdCommand(const std::vector<std::string>& args, int stdin_fd, bool stdin_is_tty,
                     std::ostream& err) {
  const std::optional<Args> parsed = ParseArgs(args, err);
  if (!parsed) return 1;
  if (absl::Status status = ValidateUserName(parsed->user); !status.ok()) {
    err << "moat passwd: invalid user name: " << status.message() << "\n";
    return 1;
  }
  std::optional<PasswordFile> file = LoadForEdit(parsed->file, !parsed->remove, err);
  if (!file) return 1;

  if (parsed->remove) {
    if (!file->Remove(parsed->user)) {
      err << "moat passwd: no user \"" << parsed->user << "\" in " << parsed->file << "\n";
      return 1;
    }
  } else {
    Secret password;
    if (!ReadPassword(stdin_fd, stdin_is_tty, password, err)) return 1;
    absl::StatusOr<PasswordEntry> entry = MakePbkdf2Entry(parsed->user, password.text);
    if (!entry.ok()) {
      err << "moat passwd: " << entry.status().message() << "\n";
      return 1;
    }
    file->Put(*std::move(entry));
  }
  if (absl::Status status = file->Save(parsed->file); !status.ok()) {
    err << "moat passwd: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace moat::policy
