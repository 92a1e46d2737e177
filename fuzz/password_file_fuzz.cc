// Arbitrary bytes into PasswordFile::ParseFromString(): nothing may crash, leak or read
// out of bounds, and
//   - a refused file gives only "fuzz:LINE: message" lines, LINE within the file and in
//     ascending order, and no message repeats the hash field of its line (it may be a
//     plain-text password);
//   - an accepted file serializes to text that parses to the same entries and serializes
//     to the same text again, and each entry's FormatEntry() line parses back to it;
//   - Verify() on an accepted entry answers, and never kUnknownUser.
//
//   input: the whole file text
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/problem_lines.h"
#include "policy/credentials/password_file.h"
#include "policy/file_reading/file_text.h"

namespace {

using moat::file_reading::SplitLines;
using moat::file_reading::TrimSpace;
using moat::fuzz::Check;
using moat::fuzz::CheckRefusal;
using moat::fuzz::ProblemLine;
using moat::policy::FormatEntry;
using moat::policy::HashType;
using moat::policy::PasswordEntry;
using moat::policy::PasswordFile;
using moat::policy::VerifyResult;

bool SameEntry(const PasswordEntry& a, const PasswordEntry& b) {
  return a.user == b.user && a.type == b.type && a.iterations == b.iterations && a.salt == b.salt &&
         a.hash == b.hash;
}

// A message body with the quoted user name (duplicate user) cut out and every digit
// made '0', so messages of one kind compare equal.
std::string Normalize(std::string_view body) {
  std::string out(body);
  constexpr std::string_view kDuplicate = "duplicate user ";
  const size_t end = out.rfind(" (first on line ");
  if (out.starts_with(kDuplicate) && end != std::string::npos && end >= kDuplicate.size()) {
    out.erase(kDuplicate.size(), end - kDuplicate.size());
  }
  for (char& c : out) {
    if (c >= '0' && c <= '9') c = '0';
  }
  return out;
}

// One message of every kind, normalized. A fuzzed hash field may well be a piece of one
// of them (libFuzzer lifts strings from the binary), and then appears in its message
// without having been quoted.
const std::string& KnownMessages() {
  static const std::string* const known = [] {
    const std::string sample =
        "nocolon\n  # x\n:$6$x$y\n\x01:$6$x$y\na:\nb:plain\nc:$5$x$y\n"
        "d:$6$x\ne:$7$x\nf:$7$x$!$!\ng:$7$1$AAAA$AAAA\ng:$7$1$AAAA$AAAA\n" +
        std::string(70000, 'u') + ":$6$x$y\n";
    const absl::StatusOr<PasswordFile> file = PasswordFile::ParseFromString(sample, "fuzz");
    Check(!file.ok(), "the message sample parses");
    auto* text = new std::string;
    for (const ProblemLine& problem : CheckRefusal(sample, "fuzz", file.status())) {
      *text += Normalize(problem.message) + "\n";
    }
    return text;
  }();
  return *known;
}

void CheckErrors(std::string_view text, const absl::Status& refusal) {
  const std::vector<std::string_view> lines = SplitLines(text);
  for (const ProblemLine& problem : CheckRefusal(text, "fuzz", refusal)) {
    Check(problem.line <= lines.size(), "problem on a line of an empty file");
    // Whatever a message says, it must not carry the hash field, unless the field
    // happens to be a piece of a fixed message. Short fields could match by chance.
    const std::string body = Normalize(problem.message);
    const std::string_view raw = lines[problem.line - 1];
    const size_t field_start = raw.find(':');
    if (field_start == std::string_view::npos) continue;
    const std::string field = Normalize(TrimSpace(raw.substr(field_start + 1)));
    if (field.size() >= 24 && body.find(field) != std::string::npos) {
      Check(KnownMessages().find(field) != std::string::npos, "message quotes the hash");
    }
  }
}

void CheckAccepted(const PasswordFile& file) {
  const std::string text = file.Serialize();
  absl::StatusOr<PasswordFile> again = PasswordFile::ParseFromString(text, "fuzz");
  Check(again.ok(), "serialized file does not parse");
  Check(again->Serialize() == text, "serialization is not stable");
  Check(again->Users() == file.Users(), "users changed in a round trip");
  for (const std::string& user : file.Users()) {
    const PasswordEntry* entry = file.Find(user);
    Check(entry != nullptr, "listed user not found");
    Check(SameEntry(*entry, *again->Find(user)), "entry changed in a round trip");
    // A user read from " #name:..." is "#name", which FormatEntry() would write as a
    // comment: such names are refused by ValidateUserName(), Put()'s precondition.
    if (moat::policy::ValidateUserName(user).ok()) {
      absl::StatusOr<PasswordFile> single =
          PasswordFile::ParseFromString(FormatEntry(*entry), "fuzz");
      Check(single.ok() && single->size() == 1, "FormatEntry() line does not parse");
      Check(SameEntry(*entry, *single->Find(user)), "FormatEntry() line parses differently");
    }
    // Bounded work per input: a fuzzed $7$ entry may ask for two billion iterations.
    if (entry->type == HashType::kSha512 || entry->iterations <= 64) {
      Check(file.Verify(user, "fuzz") != VerifyResult::kUnknownUser, "known user is unknown");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<PasswordFile> file = PasswordFile::ParseFromString(text, "fuzz");
  if (file.ok()) {
    CheckAccepted(*file);
  } else {
    CheckErrors(text, file.status());
  }
  return 0;
}
