// The real mosquitto tools as child processes: mosquitto_passwd to make password files,
// a mosquitto broker on a free loopback port that reads one, and mosquitto_pub to log
// in to it. A missing tool fails the test (never skips): deploy/install-deps.sh
// installs mosquitto and mosquitto-clients.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace moat::policy::test {

struct RunResult {
  int exit_code = -1;  // -1: could not start, or killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `argv` (argv[0] looked up in PATH) with stdin from /dev/null and waits for it.
RunResult Run(const std::vector<std::string>& argv);

// mosquitto with `password_file` and allow_anonymous false, listening on 127.0.0.1.
class MosquittoBroker {
 public:
  // Starts the broker in `dir` (its config and log go there) and waits until its port
  // accepts connections. ADD_FAILURE()s with the broker's log if it does not.
  MosquittoBroker(const std::string& dir, const std::string& password_file);
  ~MosquittoBroker();  // kills the broker by pid
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string Log() const;

  // mosquitto_pub -u user -P password: true if the broker accepted the login and the
  // message. `output` gets what mosquitto_pub printed.
  bool CanPublish(const std::string& user, const std::string& password,
                  std::string* output = nullptr) const;

 private:
  bool Start(const std::string& dir, const std::string& password_file);
  void Stop();

  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

}  // namespace moat::policy::test
