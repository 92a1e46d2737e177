// PasswordFile: the $6$ and $7$ formats against known vectors (computed independently
// with Python's hashlib, and lines written by mosquitto_passwd 2.0.11), every malformed
// line class with its exact message, editing and atomic saving.
#include "policy/credentials/password_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "tests/file_reading/temp_dir.h"

namespace moat::policy {
namespace {

using moat::test::ReadFile;
using moat::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// salt = "moat-salt-12"; hash = sha512(b"hunter2" + salt)
constexpr std::string_view kSha512Line =
    "dave:$6$bW9hdC1zYWx0LTEy$d3/"
    "7ibxuzgnO9WkczF2d7XvdhtchK5PFZHSJIia+EvDb2f96Bm5K5m86uvOdGYKtDzDohEJ0YTVKTI0cw46KXQ==";
// pbkdf2_hmac("sha512", b"correct horse", salt, 101, 64)
constexpr std::string_view kPbkdf2Line =
    "erin:$7$101$bW9hdC1zYWx0LTEy$F2b8N1mCmxIp4elD9vr/"
    "KyBLmQZXMoUpbwCGnlh1UnqGt8mGlohXUsf3jpkIYI5zkoTM1R4c9TDdiRLLWWzIZg==";
// pbkdf2_hmac("sha512", b"x", salt, 1, 64)
constexpr std::string_view kOneIterationLine =
    "frank:$7$1$bW9hdC1zYWx0LTEy$0QV9pJwA4pWqNyGHWxLEpxER/"
    "2TMEPA2OLq+tGOcGtsI6bvWhrstYS5ZEufSVBKDVXqKyn35auAEiSm7L4ly/g==";
// pbkdf2_hmac("sha512", "pässwörd".encode(), salt, 101, 64)
constexpr std::string_view kUtf8Line =
    "gina:$7$101$bW9hdC1zYWx0LTEy$0GalxPfznK6BBzsx4POFQjJOz4+0qNcSc0pmltEJyHTn2tiA4t/"
    "XZObqV5UsTvg1ykRcXabS8D+PQT5LnfSr6Q==";

// Written by mosquitto_passwd 2.0.11: -b (alice/secret), -H sha512 -b (bob/hunter2),
// -I 1000 -b (carol/pw3).
constexpr std::string_view kMosquittoPasswdFile =
    "alice:$7$101$yfDPL6vw+sLU747a$iszaAz86zUk71JbU4R34A/"
    "jBfTWtZ5KUnAGYf3kckE34iS9LClIsmm1fX5NmkEJ+jZRTnFA/Tyl/PqQYe2OUew==\n"
    "bob:$6$3V3lGzXx3jatCXxl$yVlb08cTIAazJAJCnH6mtqwF1c/"
    "IdWtmdXWyWRgp71IZZ3NUxzDw6nr39SWyqLUq022FlR4Sjvlsx5LWDr29CQ==\n"
    "carol:$7$1000$9NmIsvdf/"
    "VrL98Bi$NAY3q7jtNqu7rSizbCM28lD4tbSrSV6SRP0BZNGq8qt4t7fygvKTUYKuw7X2mfmQNDkedm4J9rZFKkApl/"
    "uXKg==\n";

constexpr std::string_view kSalt = "bW9hdC1zYWx0LTEy";
constexpr std::string_view kHash =
    "F2b8N1mCmxIp4elD9vr/KyBLmQZXMoUpbwCGnlh1UnqGt8mGlohXUsf3jpkIYI5zkoTM1R4c9TDdiRLLWWzIZg==";

PasswordFile Parse(std::string_view text) {
  absl::StatusOr<PasswordFile> file = PasswordFile::ParseFromString(text, "pw");
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : PasswordFile();
}

// The whole error text of a file that must not parse.
std::string Errors(std::string_view text) {
  absl::StatusOr<PasswordFile> file = PasswordFile::ParseFromString(text, "pw");
  if (file.ok()) return "(parsed without error)";
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(file.status().message());
}

// A good line first, so every error below is on line 2.
std::string OnLine2(std::string_view bad_line) {
  return Errors(std::string(kPbkdf2Line) + "\n" + std::string(bad_line) + "\n");
}

std::string Entry7(std::string_view iterations, std::string_view salt, std::string_view hash) {
  return "zoe:$7$" + std::string(iterations) + "$" + std::string(salt) + "$" + std::string(hash);
}

// ---- verification -----------------------------------------------------------------------

TEST(PasswordFile, VerifiesSha512KnownVector) {
  const PasswordFile file = Parse(kSha512Line);
  const PasswordEntry* entry = file.Find("dave");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->type, HashType::kSha512);
  EXPECT_EQ(entry->iterations, 0);
  EXPECT_EQ(file.Verify("dave", "hunter2"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("dave", "hunter3"), VerifyResult::kBadPassword);
}

TEST(PasswordFile, VerifiesPbkdf2KnownVector) {
  const PasswordFile file = Parse(kPbkdf2Line);
  const PasswordEntry* entry = file.Find("erin");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->type, HashType::kPbkdf2Sha512);
  EXPECT_EQ(entry->iterations, 101);
  EXPECT_EQ(std::string(entry->salt.begin(), entry->salt.end()), "moat-salt-12");
  EXPECT_EQ(file.Verify("erin", "correct horse"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("erin", "correct horse "), VerifyResult::kBadPassword);
}

TEST(PasswordFile, VerifiesPbkdf2WithOneIteration) {
  EXPECT_EQ(Parse(kOneIterationLine).Verify("frank", "x"), VerifyResult::kOk);
}

TEST(PasswordFile, VerifiesUtf8PasswordAsItsBytes) {
  const PasswordFile file = Parse(kUtf8Line);
  EXPECT_EQ(file.Verify("gina", "p\xc3\xa4ssw\xc3\xb6rd"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("gina", "passwoerd"), VerifyResult::kBadPassword);
}

TEST(PasswordFile, VerifiesLinesWrittenByMosquittoPasswd) {
  const PasswordFile file = Parse(kMosquittoPasswdFile);
  EXPECT_EQ(file.size(), 3u);
  EXPECT_EQ(file.Verify("alice", "secret"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("bob", "hunter2"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("carol", "pw3"), VerifyResult::kOk);
  EXPECT_EQ(file.Find("carol")->iterations, 1000);
  EXPECT_EQ(file.Verify("alice", "hunter2"), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("bob", "secret"), VerifyResult::kBadPassword);
}

TEST(PasswordFile, UnknownUserIsReportedApartFromBadPassword) {
  const PasswordFile file = Parse(kMosquittoPasswdFile);
  EXPECT_EQ(file.Verify("mallory", "secret"), VerifyResult::kUnknownUser);
  EXPECT_EQ(file.Verify("Alice", "secret"), VerifyResult::kUnknownUser);  // case matters
  EXPECT_EQ(file.Verify("", ""), VerifyResult::kUnknownUser);
}

TEST(PasswordFile, EmptyPrefixAndLongerPasswordsAreBad) {
  const PasswordFile file = Parse(kSha512Line);
  EXPECT_EQ(file.Verify("dave", ""), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("dave", "hunter"), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("dave", "hunter22"), VerifyResult::kBadPassword);
}

// mosquitto hashes strlen(password) bytes, so "hunter2\0junk" logs in as "hunter2" there.
TEST(PasswordFile, PasswordWithNulNeverMatches) {
  const PasswordFile file = Parse(std::string(kSha512Line) + "\n" + std::string(kPbkdf2Line));
  EXPECT_EQ(file.Verify("dave", std::string_view("hunter2\0junk", 12)), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("erin", std::string_view("correct horse\0", 14)),
            VerifyResult::kBadPassword);
}

// ---- what the reader accepts ---------------------------------------------------------

TEST(PasswordFile, SkipsCommentsAndBlankLines) {
  const PasswordFile file = Parse("# users\n\n   \n\t\n" + std::string(kPbkdf2Line) +
                                  "\n#dave:$6$ disabled\n" + std::string(kSha512Line) + "\n");
  EXPECT_EQ(file.Users(), (std::vector<std::string>{"erin", "dave"}));
}

TEST(PasswordFile, EmptyFileHasNoUsers) {
  EXPECT_EQ(Parse("").size(), 0u);
  EXPECT_EQ(Parse("\n# nobody yet\n").size(), 0u);
}

// mosquitto trims blanks (isspace) around the user name and the hash.
TEST(PasswordFile, AcceptsCrLfAndBlanksAroundFields) {
  const PasswordFile file =
      Parse("  erin\t: $7$101$" + std::string(kSalt) + "$" + std::string(kHash) + " \r\n");
  EXPECT_EQ(file.Verify("erin", "correct horse"), VerifyResult::kOk);
}

TEST(PasswordFile, AcceptsLastLineWithoutNewline) {
  EXPECT_EQ(Parse(kPbkdf2Line).Verify("erin", "correct horse"), VerifyResult::kOk);
}

TEST(PasswordFile, AcceptsLeadingZerosInIterations) {
  EXPECT_EQ(Parse(Entry7("0101", kSalt, kHash)).Find("zoe")->iterations, 101);
}

TEST(PasswordFile, FormatEntryReproducesMosquittoPasswdLines) {
  const PasswordFile file = Parse(kMosquittoPasswdFile);
  EXPECT_EQ(FormatEntry(*file.Find("alice")) + "\n" + FormatEntry(*file.Find("bob")) + "\n" +
                FormatEntry(*file.Find("carol")) + "\n",
            kMosquittoPasswdFile);
}

// ---- every malformed-line class --------------------------------------------------------

TEST(PasswordFileErrors, MissingColon) {
  EXPECT_EQ(OnLine2("erin$7$101$salt$hash"),
            "pw:2: missing ':' between user name and password hash");
}

TEST(PasswordFileErrors, IndentedComment) {
  EXPECT_EQ(OnLine2("  # a comment"),
            "pw:2: missing ':' (a comment needs its '#' in the first column)");
}

TEST(PasswordFileErrors, EmptyUser) {
  EXPECT_EQ(OnLine2(":$7$101$" + std::string(kSalt) + "$" + std::string(kHash)),
            "pw:2: empty user name");
  EXPECT_EQ(OnLine2("  :$7$101$" + std::string(kSalt) + "$" + std::string(kHash)),
            "pw:2: empty user name");
}

TEST(PasswordFileErrors, ControlCharacterInUser) {
  EXPECT_EQ(OnLine2("er\x01in:$7$101$" + std::string(kSalt) + "$" + std::string(kHash)),
            "pw:2: user name contains a control character");
}

TEST(PasswordFileErrors, UserNameTooLong) {
  EXPECT_EQ(
      OnLine2(std::string(65536, 'u') + ":$7$101$" + std::string(kSalt) + "$" + std::string(kHash)),
      "pw:2: user name longer than 65535 bytes");
}

TEST(PasswordFileErrors, MissingHash) {
  EXPECT_EQ(OnLine2("zoe:"), "pw:2: missing password hash after ':'");
  EXPECT_EQ(OnLine2("zoe: \t"), "pw:2: missing password hash after ':'");
}

TEST(PasswordFileErrors, UnknownHashType) {
  const std::string expected =
      "pw:2: unknown password hash type: expected $6$ (sha512) or $7$ (sha512-pbkdf2)";
  EXPECT_EQ(OnLine2("zoe:$5$" + std::string(kSalt) + "$" + std::string(kHash)), expected);
  EXPECT_EQ(OnLine2("zoe:$2y$10$abcdefghijklmnopqrstuv"), expected);  // bcrypt (htpasswd)
  EXPECT_EQ(OnLine2("zoe:$$7$101$" + std::string(kSalt) + "$" + std::string(kHash)), expected);
}

TEST(PasswordFileErrors, PlainTextPassword) {
  EXPECT_EQ(OnLine2("zoe:opensesame"),
            "pw:2: password hash must start with $6$ or $7$ (a plain-text password file is "
            "hashed by mosquitto_passwd -U)");
}

TEST(PasswordFileErrors, WrongNumberOfFields) {
  EXPECT_EQ(OnLine2("zoe:$7$" + std::string(kSalt) + "$" + std::string(kHash)),
            "pw:2: a $7$ password hash must have the form $7$ITERATIONS$SALT$HASH");
  EXPECT_EQ(OnLine2(Entry7("101", kSalt, kHash) + "$"),
            "pw:2: a $7$ password hash must have the form $7$ITERATIONS$SALT$HASH");
  EXPECT_EQ(OnLine2("zoe:$6$101$" + std::string(kSalt) + "$" + std::string(kHash)),
            "pw:2: a $6$ password hash must have the form $6$SALT$HASH");
  EXPECT_EQ(OnLine2("zoe:$6$"), "pw:2: a $6$ password hash must have the form $6$SALT$HASH");
}

TEST(PasswordFileErrors, BadIterationCount) {
  const std::string expected = "pw:2: iteration count must be a whole number from 1 to 2147483647";
  for (const char* iterations :
       {"0", "-1", "+101", "abc", "101abc", " 101", "1e3", "2147483648", "99999999999", ""}) {
    EXPECT_EQ(OnLine2(Entry7(iterations, kSalt, kHash)), expected) << iterations;
  }
  EXPECT_EQ(Parse(Entry7("2147483647", kSalt, kHash)).Find("zoe")->iterations, 2147483647);
}

TEST(PasswordFileErrors, BadBase64Salt) {
  for (const char* salt : {"bW9hdC1zYWx0LTE*", "bW9hdC1zYWx0LTE", "bW9hdC1z YWx0LTEy",
                           "bW9hdC1zYWx0LTEy====", "", "bW9h=C1zYWx0LTEy"}) {
    EXPECT_EQ(OnLine2(Entry7("101", salt, kHash)), "pw:2: salt is not valid base64") << salt;
  }
}

TEST(PasswordFileErrors, BadBase64Hash) {
  std::string unpadded(kHash.substr(0, kHash.size() - 2));
  std::string url_safe(kHash);
  url_safe[kHash.find('/')] = '_';
  // "...Zg==" encodes 0x66; "...Zh==" has a stray bit below the last byte.
  std::string stray_bits(kHash);
  stray_bits[stray_bits.size() - 3] = 'h';
  for (const std::string& hash : {unpadded, url_safe, stray_bits, std::string("!")}) {
    EXPECT_EQ(OnLine2(Entry7("101", kSalt, hash)), "pw:2: hash is not valid base64") << hash;
  }
}

TEST(PasswordFileErrors, SaltMustBe12Bytes) {
  EXPECT_EQ(OnLine2(Entry7("101", "bW9hdC1zYWx0LTEyMw==", kHash)),
            "pw:2: salt is 13 bytes; mosquitto needs 12");
  EXPECT_EQ(OnLine2(Entry7("101", "bW9hdA==", kHash)), "pw:2: salt is 4 bytes; mosquitto needs 12");
}

TEST(PasswordFileErrors, HashMustBe64Bytes) {
  EXPECT_EQ(OnLine2(Entry7("101", kSalt, "AAAA")), "pw:2: hash is 3 bytes; a SHA-512 hash is 64");
}

TEST(PasswordFileErrors, ReportsSaltAndHashAndIterationsTogether) {
  EXPECT_EQ(OnLine2(Entry7("x", "!", "!")),
            "pw:2: iteration count must be a whole number from 1 to 2147483647\n"
            "pw:2: salt is not valid base64\n"
            "pw:2: hash is not valid base64");
}

TEST(PasswordFileErrors, DuplicateUser) {
  EXPECT_EQ(Errors(std::string(kPbkdf2Line) + "\n# again\n" + std::string(kPbkdf2Line) + "\n"),
            "pw:3: duplicate user 'erin' (first on line 1)");
  // Blanks around the name do not make it another user, as mosquitto trims them.
  EXPECT_EQ(OnLine2(" erin :$6$" + std::string(kSalt) + "$" + std::string(kHash)),
            "pw:2: duplicate user 'erin' (first on line 1)");
  // The name is quoted as every file's text is: a long one cut short (mosquitto allows
  // 65535 bytes).
  const std::string longer(100, 'u');
  EXPECT_EQ(Errors(longer + ":$6$" + std::string(kSalt) + "$" + std::string(kHash) + "\n" + longer +
                   ":$6$" + std::string(kSalt) + "$" + std::string(kHash) + "\n"),
            "pw:2: duplicate user '" + std::string(60, 'u') + "...' (first on line 1)");
}

TEST(PasswordFileErrors, ReportsEveryProblemInLineOrder) {
  EXPECT_EQ(Errors("# header\n"
                   "nocolon\n" +
                   std::string(kPbkdf2Line) + "\n" + ":$6$" + std::string(kSalt) + "$" +
                   std::string(kHash) + "\n" + std::string(kPbkdf2Line) +
                   "\n"
                   "x:$9$a$b\n"),
            "pw:2: missing ':' between user name and password hash\n"
            "pw:4: empty user name\n"
            "pw:5: duplicate user 'erin' (first on line 3)\n"
            "pw:6: unknown password hash type: expected $6$ (sha512) or $7$ (sha512-pbkdf2)");
}

// The hash field may be a plain-text password (a file not yet converted with
// mosquitto_passwd -U) or a real hash worth cracking offline: it must never reach a log.
TEST(PasswordFileErrors, NoMessageQuotesTheHashField) {
  const std::string secret = "Sup3rS3cretPl41nText";
  const std::string secret_b64 = "U3VwM3JTM2NyZXRQbDQxblRleHQ=";  // base64 of `secret`
  const std::vector<std::string> bad_lines = {
      "u1:" + secret,
      "u2:$" + secret + "$" + std::string(kSalt) + "$" + std::string(kHash),
      "u3:$7$" + secret + "$" + std::string(kSalt) + "$" + std::string(kHash),
      "u4:$7$101$" + secret + "$" + std::string(kHash),
      "u5:$7$101$" + std::string(kSalt) + "$" + secret,
      "u6:$7$101$" + secret_b64 + "$" + secret_b64,
      "u7:$6$" + std::string(kSalt) + "$" + std::string(kHash) + ":" + secret,
      "u8:$7$101$" + std::string(kSalt) + "$" + std::string(kHash) + "$" + secret,
      "u9:$6$" + secret + "$" + secret,
      "erin:$7$101$" + std::string(kSalt) + "$" + std::string(kHash),
      "erin:$7$101$" + std::string(kSalt) + "$" + std::string(kHash),  // duplicate
  };
  std::string text;
  for (const std::string& line : bad_lines) text += line + "\n";
  const std::string errors = Errors(text);
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n') + 1, 12) << errors;
  for (std::string_view needle : {std::string_view(secret), std::string_view(secret_b64), kSalt,
                                  kHash, std::string_view("Sup3r")}) {
    EXPECT_THAT(errors, Not(HasSubstr(std::string(needle))));
  }
}

TEST(PasswordFileErrors, UnreadableFileIsReportedAtLine1) {
  TempDir dir;
  const std::string path = dir.File("missing");
  const absl::StatusOr<PasswordFile> file = PasswordFile::Load(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(),
            path + ":1: cannot read password file: No such file or directory");
}

TEST(PasswordFileErrors, AFolderIsNotAnEmptyFile) {
  TempDir dir;
  const absl::StatusOr<PasswordFile> file = PasswordFile::Load(dir.path());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), dir.path() + ":1: cannot read password file: Is a directory");
}

TEST(PasswordFileErrors, LoadNamesTheFile) {
  TempDir dir;
  const std::string path = dir.Write("passwd", "ok-line-missing-colon\n");
  const absl::StatusOr<PasswordFile> file = PasswordFile::Load(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), path + ":1: missing ':' between user name and password hash");
}

// ---- new entries -----------------------------------------------------------------------

TEST(MakePbkdf2Entry, UsesMosquittosDefaultIterationsAndVerifies) {
  const absl::StatusOr<PasswordEntry> entry = MakePbkdf2Entry("hank", "s3cret");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->type, HashType::kPbkdf2Sha512);
  EXPECT_EQ(entry->iterations, 101);
  const std::string line = FormatEntry(*entry);
  EXPECT_THAT(line,
              ::testing::MatchesRegex("hank:\\$7\\$101\\$[A-Za-z0-9+/]{16}\\$[A-Za-z0-9+/]{86}=="));
  const PasswordFile file = Parse(line);
  EXPECT_EQ(file.Verify("hank", "s3cret"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("hank", "s3cret!"), VerifyResult::kBadPassword);
}

TEST(MakePbkdf2Entry, HonoursIterationsAndDrawsAFreshSaltEachTime) {
  std::set<std::string> salts;
  for (int i = 0; i < 8; ++i) {
    const absl::StatusOr<PasswordEntry> entry = MakePbkdf2Entry("hank", "same", 5);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(entry->iterations, 5);
    salts.emplace(entry->salt.begin(), entry->salt.end());
  }
  EXPECT_EQ(salts.size(), 8u);
}

TEST(MakePbkdf2Entry, RefusesWhatMosquittoWouldMisread) {
  for (std::string_view user :
       {std::string_view(""), std::string_view("a:b"), std::string_view("#hank"),
        std::string_view(" hank"), std::string_view("hank\t"), std::string_view("ha\nnk"),
        std::string_view("ha\x7fnk")}) {
    EXPECT_EQ(MakePbkdf2Entry(user, "pw").status().code(), absl::StatusCode::kInvalidArgument)
        << user;
  }
  EXPECT_FALSE(MakePbkdf2Entry(std::string(65536, 'u'), "pw").ok());
  EXPECT_TRUE(MakePbkdf2Entry(std::string(65535, 'u'), "pw").ok());
  EXPECT_TRUE(MakePbkdf2Entry("h a#n+k/\xc3\xa4", "pw").ok());
  EXPECT_EQ(MakePbkdf2Entry("hank", "").status().message(), "empty password");
  EXPECT_EQ(MakePbkdf2Entry("hank", std::string_view("a\0b", 3)).status().message(),
            "password contains a NUL byte");
  EXPECT_FALSE(MakePbkdf2Entry("hank", std::string(65536, 'p')).ok());
  EXPECT_FALSE(MakePbkdf2Entry("hank", "pw", 0).ok());
}

// ---- editing and saving ----------------------------------------------------------------

TEST(PasswordFileEdit, PutReplacesInPlaceAndAppendsNewUsers) {
  const std::string original = "# team\nalice :$7$101$" + std::string(kSalt) + "$" +
                               std::string(kHash) + "\n\n" + std::string(kSha512Line) + "\n";
  PasswordFile file = Parse(original);
  EXPECT_EQ(file.Serialize(), original);  // untouched lines keep their exact text

  PasswordEntry alice = *MakePbkdf2Entry("alice", "new");
  const std::string alice_line = FormatEntry(alice);
  file.Put(alice);
  PasswordEntry zed = *MakePbkdf2Entry("zed", "zzz");
  const std::string zed_line = FormatEntry(zed);
  file.Put(zed);
  EXPECT_EQ(file.Serialize(),
            "# team\n" + alice_line + "\n\n" + std::string(kSha512Line) + "\n" + zed_line + "\n");
  EXPECT_EQ(file.Verify("alice", "new"), VerifyResult::kOk);
  EXPECT_EQ(file.Verify("alice", "correct horse"), VerifyResult::kBadPassword);
  EXPECT_EQ(file.Verify("dave", "hunter2"), VerifyResult::kOk);
  EXPECT_EQ(file.Users(), (std::vector<std::string>{"alice", "dave", "zed"}));
}

TEST(PasswordFileEdit, RemoveKeepsTheRest) {
  PasswordFile file = Parse(std::string(kPbkdf2Line) + "\n# dave below\n" +
                            std::string(kSha512Line) + "\n" + std::string(kUtf8Line) + "\n");
  EXPECT_TRUE(file.Remove("dave"));
  EXPECT_FALSE(file.Remove("dave"));
  EXPECT_EQ(file.Serialize(),
            std::string(kPbkdf2Line) + "\n# dave below\n" + std::string(kUtf8Line) + "\n");
  EXPECT_EQ(file.Verify("dave", "hunter2"), VerifyResult::kUnknownUser);
  EXPECT_EQ(file.Verify("gina", "p\xc3\xa4ssw\xc3\xb6rd"), VerifyResult::kOk);
  EXPECT_EQ(file.size(), 2u);
}

TEST(PasswordFileSave, CreatesANewFileWithMode0600) {
  TempDir dir;
  PasswordFile file;
  file.Put(*MakePbkdf2Entry("ivan", "pw"));
  const std::string path = dir.File("passwd");
  ASSERT_TRUE(file.Save(path).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(ReadFile(path), file.Serialize());
  EXPECT_EQ(PasswordFile::Load(path)->Verify("ivan", "pw"), VerifyResult::kOk);
  // Nothing left behind but the file itself.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(PasswordFileSave, KeepsTheModeOfAnExistingFileAndReplacesItWhole) {
  TempDir dir;
  const std::string path = dir.Write("passwd", std::string(kSha512Line) + "\n");
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  struct stat before {};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  PasswordFile file = *PasswordFile::Load(path);
  file.Put(*MakePbkdf2Entry("ivan", "pw"));
  ASSERT_TRUE(file.Save(path).ok());
  struct stat after {};
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_NE(after.st_ino, before.st_ino);  // a rename, so a reader sees old or new, never half
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(PasswordFile::Load(path)->Users(), (std::vector<std::string>{"dave", "ivan"}));
}

TEST(PasswordFileSave, FollowsASymbolicLink) {
  TempDir dir;
  const std::string target = dir.Write("real", std::string(kSha512Line) + "\n");
  const std::string link = dir.File("link");
  std::filesystem::create_symlink(target, link);
  PasswordFile file = *PasswordFile::Load(link);
  file.Put(*MakePbkdf2Entry("ivan", "pw"));
  ASSERT_TRUE(file.Save(link).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(PasswordFile::Load(target)->Verify("ivan", "pw"), VerifyResult::kOk);
}

TEST(PasswordFileSave, ReportsAMissingFolder) {
  TempDir dir;
  const absl::Status status = PasswordFile().Save(dir.File("no/such/passwd"));
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("No such file or directory"));
}

}  // namespace
}  // namespace moat::policy
