// `moat passwd`: arguments, password input from a pipe and from a terminal (a real
// pseudo-terminal, to see that nothing is echoed), and the edits it makes.
#include "policy/credentials/passwd_command.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/credentials/password_file.h"
#include "tests/file_reading/temp_dir.h"

namespace moat::policy {
namespace {

using moat::test::ReadFile;
using moat::test::TempDir;
using ::testing::HasSubstr;

// A file descriptor that reads `input` and then end of file (a memfd: a pipe would
// block on input larger than its buffer).
class Stdin {
 public:
  explicit Stdin(std::string_view input) : fd_(memfd_create("stdin", MFD_CLOEXEC)) {
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(write(fd_, input.data(), input.size()), static_cast<ssize_t>(input.size()));
    EXPECT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  }
  ~Stdin() { close(fd_); }
  Stdin(const Stdin&) = delete;
  Stdin& operator=(const Stdin&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

struct Outcome {
  int exit_code;
  std::string err;
};

Outcome Passwd(const std::vector<std::string>& args, std::string_view input = "") {
  Stdin in(input);
  std::ostringstream err;
  const int code = RunPasswdCommand(args, in.fd(), /*stdin_is_tty=*/false, err);
  return {code, err.str()};
}

PasswordFile LoadOrFail(const std::string& path) {
  absl::StatusOr<PasswordFile> file = PasswordFile::Load(path);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : PasswordFile();
}

TEST(PasswdCommand, CreatesTheFileWithMode0600) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  const Outcome out = Passwd({path, "alice"}, "s3cret\n");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.err, "");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const PasswordFile file = LoadOrFail(path);
  EXPECT_EQ(file.Verify("alice", "s3cret"), VerifyResult::kOk);
  EXPECT_EQ(file.Find("alice")->type, HashType::kPbkdf2Sha512);
  EXPECT_EQ(file.Find("alice")->iterations, kMosquittoDefaultIterations);
}

TEST(PasswdCommand, ReadsOneLineAndDropsItsLineEnd) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  ASSERT_EQ(Passwd({path, "crlf"}, "windows\r\nsecond line\n").exit_code, 0);
  ASSERT_EQ(Passwd({path, "eof"}, "no newline").exit_code, 0);
  ASSERT_EQ(Passwd({path, "blanks"}, " spaced out \n").exit_code, 0);
  const PasswordFile file = LoadOrFail(path);
  EXPECT_EQ(file.Verify("crlf", "windows"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("eof", "no newline"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("blanks", " spaced out "), VerifyResult::kOk);
}

TEST(PasswdCommand, UpdatesInPlaceKeepingCommentsAndOtherUsers) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  ASSERT_EQ(Passwd({path, "alice"}, "one\n").exit_code, 0);
  ASSERT_EQ(Passwd({path, "bob"}, "two\n").exit_code, 0);
  const std::string before = ReadFile(path);
  const std::string bob_line = before.substr(before.find("bob:"));
  dir.Write("passwd", "# staff\n" + before.substr(0, before.find("bob:")) + "\n" + bob_line);

  const Outcome out = Passwd({path, "alice"}, "three\n");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  const std::string after = ReadFile(path);
  EXPECT_TRUE(after.starts_with("# staff\nalice:$7$101$")) << after;
  EXPECT_TRUE(after.ends_with("\n\n" + bob_line)) << after;
  const PasswordFile file = LoadOrFail(path);
  EXPECT_EQ(file.Verify("alice", "three"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("alice", "one"), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("bob", "two"), VerifyResult::kOk);
}

TEST(PasswdCommand, DeletesAUser) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  ASSERT_EQ(Passwd({path, "alice"}, "one\n").exit_code, 0);
  ASSERT_EQ(Passwd({path, "bob"}, "two\n").exit_code, 0);
  const Outcome out = Passwd({"-D", path, "alice"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(LoadOrFail(path).Users(), std::vector<std::string>{"bob"});
}

TEST(PasswdCommand, DeletingAMissingUserFails) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  ASSERT_EQ(Passwd({path, "bob"}, "two\n").exit_code, 0);
  const std::string before = ReadFile(path);
  const Outcome out = Passwd({"-D", path, "alice"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "moat passwd: no user \"alice\" in " + path + "\n");
  EXPECT_EQ(ReadFile(path), before);
}

TEST(PasswdCommand, DeletingFromAMissingFileFails) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  const Outcome out = Passwd({"-D", path, "alice"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr(path + ":1: cannot read password file"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(PasswdCommand, LeavesAnInvalidFileAloneAndSaysWhere) {
  TempDir dir;
  const std::string path = dir.Write("passwd", "# ok\nbroken line\nx:plain\n");
  const Outcome out = Passwd({path, "alice"}, "one\n");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, path + ":2: missing ':' between user name and password hash\n" + path +
                         ":3: password hash must start with $6$ or $7$ (a plain-text password "
                         "file is hashed by mosquitto_passwd -U)\n"
                         "moat passwd: " +
                         path + " left unchanged\n");
  EXPECT_EQ(ReadFile(path), "# ok\nbroken line\nx:plain\n");
}

TEST(PasswdCommand, RefusesEmptyOrMissingPassword) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  Outcome out = Passwd({path, "alice"}, "\n");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "moat passwd: empty password\n");
  out = Passwd({path, "alice"}, "");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "moat passwd: no password on stdin\n");
  out = Passwd({path, "alice"}, std::string(65536, 'p') + "\n");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "moat passwd: password longer than 65535 bytes\n");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(Passwd({path, "alice"}, std::string(65535, 'p') + "\n").exit_code, 0);
}

TEST(PasswdCommand, RefusesABadUserName) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  const Outcome out = Passwd({path, "#alice"}, "one\n");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.err, "moat passwd: invalid user name: user name starts with '#'\n");
  EXPECT_EQ(Passwd({path, "a:b"}, "one\n").exit_code, 1);
  EXPECT_EQ(Passwd({path, ""}, "one\n").exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(PasswdCommand, UsageErrors) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"file"},
                                               {"file", "user", "extra"},
                                               {"-D", "file"},
                                               {"-x", "file", "user"},
                                               {"-b", "file", "user", "pw"}}) {
    const Outcome out = Passwd(args, "pw\n");
    EXPECT_EQ(out.exit_code, 1);
    EXPECT_THAT(out.err, HasSubstr("usage: moat passwd FILE USER"));
  }
  EXPECT_FALSE(std::filesystem::exists("file"));
}

TEST(PasswdCommand, DoubleDashEndsOptions) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  EXPECT_EQ(Passwd({"--", path, "-D"}, "pw\n").exit_code, 0);
  EXPECT_EQ(LoadOrFail(path).Users(), std::vector<std::string>{"-D"});
}

// ---- on a terminal ---------------------------------------------------------------------

class Terminal {
 public:
  Terminal() {
    EXPECT_EQ(openpty(&master_, &slave_, nullptr, nullptr, nullptr), 0);
    fcntl(master_, F_SETFL, fcntl(master_, F_GETFL) | O_NONBLOCK);
  }
  ~Terminal() {
    close(master_);
    close(slave_);
  }
  int slave() const { return slave_; }
  bool Echoes() const {
    struct termios t {};
    tcgetattr(slave_, &t);
    return (t.c_lflag & ECHO) != 0;
  }
  // Types `keys` once echo is off, as a person would after seeing the prompt.
  bool TypeWhenQuiet(std::string_view keys) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (Echoes()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return write(master_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
  }
  // What the terminal showed (its echo).
  std::string Screen() const {
    std::string shown;
    char buf[256];
    ssize_t n;
    while ((n = read(master_, buf, sizeof(buf))) > 0) shown.append(buf, static_cast<size_t>(n));
    return shown;
  }

 private:
  int master_ = -1;
  int slave_ = -1;
};

Outcome PasswdOnTerminal(const Terminal& tty, const std::vector<std::string>& args,
                         std::string_view keys) {
  std::ostringstream err;
  std::future<int> code = std::async(std::launch::async, [&] {
    return RunPasswdCommand(args, tty.slave(), /*stdin_is_tty=*/true, err);
  });
  EXPECT_TRUE(tty.TypeWhenQuiet(keys));
  const int exit_code = code.get();
  return {exit_code, err.str()};
}

TEST(PasswdCommandTty, AsksTwiceWithoutEchoAndRestoresTheTerminal) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  Terminal tty;
  ASSERT_TRUE(tty.Echoes());
  const Outcome out = PasswdOnTerminal(tty, {path, "alice"}, "t0ps3cret\nt0ps3cret\n");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.err, "Password: Reenter password: ");
  EXPECT_THAT(tty.Screen(), ::testing::Not(HasSubstr("t0ps3cret")));
  EXPECT_TRUE(tty.Echoes());
  EXPECT_EQ(LoadOrFail(path).Verify("alice", "t0ps3cret"), VerifyResult::kOk);
}

TEST(PasswdCommandTty, MismatchedPasswordsChangeNothing) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  Terminal tty;
  const Outcome out = PasswdOnTerminal(tty, {path, "alice"}, "first\nsecond\n");
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("moat passwd: passwords do not match\n"));
  EXPECT_TRUE(tty.Echoes());
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace moat::policy
