#include "tests/policy/mosquitto_tools.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/file_reading/temp_dir.h"

extern char** environ;

namespace moat::policy::test {

using moat::test::ReadFile;

namespace {

// Spawns `argv` with stdin from /dev/null and stdout + stderr into `output_path`.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& output_path) {
  std::vector<char*> c_argv;
  for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc)
                  << " (deploy/install-deps.sh installs mosquitto and mosquitto-clients)";
    return -1;
  }
  return pid;
}

int WaitExitCode(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A port nothing listens on right now. Another process may take it before mosquitto
// binds it; Start() then sees mosquitto exit and tries again.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string TempOutputPath() {
  char path[] = "/tmp/moat-credentials-run-XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  return path;
}

}  // namespace

RunResult Run(const std::vector<std::string>& argv) {
  const std::string output_path = TempOutputPath();
  RunResult result;
  const pid_t pid = Spawn(argv, output_path);
  if (pid > 0) result.exit_code = WaitExitCode(pid);
  result.output = ReadFile(output_path);
  std::remove(output_path.c_str());
  return result;
}

MosquittoBroker::MosquittoBroker(const std::string& dir, const std::string& password_file) {
  for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
    if (Start(dir, password_file)) return;
  }
  ADD_FAILURE() << "mosquitto did not start; its log:\n" << Log();
}

MosquittoBroker::~MosquittoBroker() { Stop(); }

bool MosquittoBroker::Start(const std::string& dir, const std::string& password_file) {
  port_ = FreeLoopbackPort();
  const std::string conf = (std::filesystem::path(dir) / "mosquitto.conf").string();
  log_path_ = (std::filesystem::path(dir) / "mosquitto.log").string();
  std::ofstream out(conf, std::ios::trunc);
  out << "listener " << port_ << " 127.0.0.1\n"
      << "allow_anonymous false\n"
      << "password_file " << password_file << "\n"
      << "persistence false\n";
  // As root, mosquitto drops to the "mosquitto" user, who cannot read the test's 0700
  // temp folder.
  if (geteuid() == 0) out << "user root\n";
  out.close();

  pid_ = Spawn({"mosquitto", "-c", conf}, log_path_);
  if (pid_ <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Accepts(port_)) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, or bad config
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Stop();
  return false;
}

void MosquittoBroker::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  WaitExitCode(pid_);
  pid_ = -1;
}

std::string MosquittoBroker::Log() const { return ReadFile(log_path_); }

bool MosquittoBroker::CanPublish(const std::string& user, const std::string& password,
                                 std::string* output) const {
  const RunResult result =
      Run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(port_), "-u", user, "-P",
           password, "-t", "moat/credentials", "-m", "hello", "-q", "1"});
  if (output != nullptr) *output = result.output;
  return result.exit_code == 0;
}

}  // namespace moat::policy::test
