// Compatibility both ways with the real thing: files made by mosquitto_passwd verify in
// moat, and entries moat writes log in to a real mosquitto broker (and a wrong password
// does not).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/credentials/passwd_command.h"
#include "policy/credentials/password_file.h"
#include "tests/file_reading/temp_dir.h"
#include "tests/policy/mosquitto_tools.h"

namespace moat::policy {
namespace {

using moat::test::ReadFile;
using moat::test::TempDir;
using test::MosquittoBroker;
using test::Run;

PasswordFile LoadOrFail(const std::string& path) {
  absl::StatusOr<PasswordFile> file = PasswordFile::Load(path);
  EXPECT_TRUE(file.ok()) << file.status() << "\n" << ReadFile(path);
  return file.ok() ? *std::move(file) : PasswordFile();
}

void MosquittoPasswd(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"mosquitto_passwd"};
  argv.insert(argv.end(), args.begin(), args.end());
  const test::RunResult result = Run(argv);
  ASSERT_EQ(result.exit_code, 0) << result.output;
}

std::string Base64(const uint8_t* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  out.resize(static_cast<size_t>(
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size))));
  return out;
}

// A $6$ line built here from mosquitto's pw__hash(), independently of moat's code:
// SHA-512 over the password, then the 12 salt bytes.
std::string Sha512Line(std::string_view user, std::string_view password, std::string_view salt) {
  std::string input = std::string(password) + std::string(salt);
  std::array<uint8_t, 64> hash{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(input.data(), input.size(), hash.data(), &len, EVP_sha512(), nullptr), 1);
  return std::string(user) + ":$6$" +
         Base64(reinterpret_cast<const uint8_t*>(salt.data()), salt.size()) + "$" +
         Base64(hash.data(), hash.size());
}

// ---- mosquitto_passwd -> moat ----------------------------------------------------------

TEST(MosquittoPasswdFiles, Pbkdf2EntriesVerify) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  MosquittoPasswd({"-c", "-b", path, "alice", "secret"});
  MosquittoPasswd({"-b", path, "bob",
                   "with spaces & \xc3\xbcnic\xc3\xb6"
                   "de"});
  MosquittoPasswd({"-I", "1000", "-b", path, "carol", "pw3"});
  const PasswordFile file = LoadOrFail(path);
  ASSERT_EQ(file.Users(), (std::vector<std::string>{"alice", "bob", "carol"}));
  EXPECT_EQ(file.Find("alice")->type, HashType::kPbkdf2Sha512);
  EXPECT_EQ(file.Find("alice")->iterations, kMosquittoDefaultIterations);
  EXPECT_EQ(file.Find("carol")->iterations, 1000);
  EXPECT_EQ(file.Verify("alice", "secret"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("bob",
                        "with spaces & \xc3\xbcnic\xc3\xb6"
                        "de"),
            VerifyResult::kOk);
  EXPECT_EQ(file.Verify("carol", "pw3"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("alice", "Secret"), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("carol", "pw"), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("dave", "secret"), VerifyResult::kUnknownUser);
  // moat writes the same line back: nothing is lost or reformatted.
  EXPECT_EQ(file.Serialize(), ReadFile(path));
}

TEST(MosquittoPasswdFiles, Sha512EntriesVerify) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  MosquittoPasswd({"-H", "sha512", "-c", "-b", path, "alice", "secret"});
  MosquittoPasswd({"-H", "sha512", "-b", path, "bob", "hunter2"});
  const PasswordFile file = LoadOrFail(path);
  EXPECT_EQ(file.Find("alice")->type, HashType::kSha512);
  EXPECT_EQ(file.Verify("alice", "secret"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("bob", "hunter2"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("bob", "secret"), VerifyResult::kBadPassword);
}

TEST(MosquittoPasswdFiles, EditsByMosquittoPasswdOfAMoatFileReadBack) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  PasswordFile ours;
  ours.Put(*MakePbkdf2Entry("alice", "one"));
  ours.Put(*MakePbkdf2Entry("bob", "two"));
  ASSERT_TRUE(ours.Save(path).ok());
  MosquittoPasswd({"-b", path, "alice", "uno"});  // update in place
  MosquittoPasswd({"-H", "sha512", "-b", path, "carol", "three"});
  MosquittoPasswd({"-D", path, "bob"});
  const PasswordFile file = LoadOrFail(path);
  EXPECT_EQ(file.Users(), (std::vector<std::string>{"alice", "carol"}));
  EXPECT_EQ(file.Verify("alice", "uno"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("carol", "three"), VerifyResult::kOk);
}

// ---- moat -> mosquitto broker ----------------------------------------------------------

TEST(MosquittoBroker, AcceptsPbkdf2EntriesMoatWrites) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  PasswordFile file;
  file.Put(*MakePbkdf2Entry("alice", "s3cret"));
  file.Put(*MakePbkdf2Entry("bob", "p\xc3\xa4ss word", 1000));
  ASSERT_TRUE(file.Save(path).ok());

  MosquittoBroker broker(dir.path(), path);
  ASSERT_TRUE(broker.running());
  std::string output;
  EXPECT_TRUE(broker.CanPublish("alice", "s3cret", &output)) << output << broker.Log();
  EXPECT_TRUE(broker.CanPublish("bob", "p\xc3\xa4ss word", &output)) << output << broker.Log();
  EXPECT_FALSE(broker.CanPublish("alice", "s3cret ", &output)) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("not authorised"));
  EXPECT_FALSE(broker.CanPublish("bob", "s3cret"));
  EXPECT_FALSE(broker.CanPublish("carol", "s3cret"));
}

TEST(MosquittoBroker, AcceptsASha512LineBuiltFromTheAlgorithm) {
  TempDir dir;
  const std::string line = Sha512Line("dave", "hunter2", "moat-salt-12");
  // The same line as a known vector computed with Python's hashlib.
  EXPECT_EQ(line,
            "dave:$6$bW9hdC1zYWx0LTEy$d3/7ibxuzgnO9WkczF2d7XvdhtchK5PFZHSJIia+EvDb2f96Bm5K5m86uvOd"
            "GYKtDzDohEJ0YTVKTI0cw46KXQ==");
  const std::string path = dir.Write("passwd", line + "\n");
  EXPECT_EQ(LoadOrFail(path).Verify("dave", "hunter2"), VerifyResult::kOk);

  MosquittoBroker broker(dir.path(), path);
  ASSERT_TRUE(broker.running());
  std::string output;
  EXPECT_TRUE(broker.CanPublish("dave", "hunter2", &output)) << output << broker.Log();
  EXPECT_FALSE(broker.CanPublish("dave", "hunter3"));
}

// End to end: `moat passwd` edits a mosquitto_passwd file with a comment in it (which
// mosquitto_passwd itself cannot edit without losing lines), and the broker reads it.
TEST(MosquittoBroker, ReadsAFileEditedByMoatPasswd) {
  TempDir dir;
  const std::string path = dir.File("passwd");
  MosquittoPasswd({"-c", "-b", path, "alice", "from mosquitto_passwd"});
  dir.Write("passwd", "# managed by moat passwd\n" + ReadFile(path) + "\n");
  for (const auto& [user, password] :
       {std::pair<std::string, std::string>{"bob", "b0b"}, {"alice", "changed"}}) {
    const int fd = memfd_create("stdin", 0);
    ASSERT_EQ(write(fd, password.data(), password.size()), static_cast<ssize_t>(password.size()));
    lseek(fd, 0, SEEK_SET);
    std::ostringstream err;
    EXPECT_EQ(RunPasswdCommand({path, user}, fd, false, err), 0) << err.str();
    close(fd);
  }

  MosquittoBroker broker(dir.path(), path);
  ASSERT_TRUE(broker.running());
  std::string output;
  EXPECT_TRUE(broker.CanPublish("alice", "changed", &output)) << output << broker.Log();
  EXPECT_TRUE(broker.CanPublish("bob", "b0b", &output)) << output << broker.Log();
  EXPECT_FALSE(broker.CanPublish("alice", "from mosquitto_passwd"));
  EXPECT_TRUE(ReadFile(path).starts_with("# managed by moat passwd\nalice:$7$101$"));
}

}  // namespace
}  // namespace moat::policy
