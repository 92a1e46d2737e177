#include "policy/acl/acl_file.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "policy/acl/topic_match.h"
#include "policy/file_reading/file_text.h"
#include "policy/file_reading/problems.h"

namespace moat::policy {
namespace {

using file_reading::Problems;
using file_reading::Quote;
using file_reading::SplitLines;
using file_reading::TrimSpace;

// Debian's Abseil has its own string_view type, not an alias of std::string_view.
absl::string_view Av(std::string_view text) { return {text.data(), text.size()}; }

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// The first blank-separated word of `*rest`, removed from it (with the blanks after it).
std::string_view NextWord(std::string_view* rest) {
  std::string_view s = *rest;
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  size_t end = 0;
  while (end < s.size() && !IsBlank(s[end])) ++end;
  const std::string_view word = s.substr(0, end);
  s.remove_prefix(end);
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  *rest = s;
  return word;
}

std::optional<AclAccess> ParseAccess(std::string_view word) {
  if (word == "read") return AclAccess::kRead;
  if (word == "write") return AclAccess::kWrite;
  if (word == "readwrite") return AclAccess::kReadWrite;
  if (word == "deny") return AclAccess::kDeny;
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(std::string_view filename) : problems_(filename) {
    file_.filename = std::string(filename);
  }

  void Line(int number, std::string_view raw) {
    line_ = number;
    if (raw.find('\0') != std::string_view::npos) {
      return Problem("the line holds a NUL byte");
    }
    std::string_view rest = TrimSpace(raw);
    if (rest.empty() || rest.front() == '#') return;
    const std::string_view keyword = NextWord(&rest);
    if (keyword == "user") return User(rest);
    if (keyword == "topic" || keyword == "pattern") return Rule(keyword, rest);
    Problem(absl::StrCat("unknown keyword ", Quote(keyword),
                         " (expected 'user', 'topic' or 'pattern')"));
  }

  absl::StatusOr<AclFile> Finish() && {
    if (problems_.empty()) return std::move(file_);
    return problems_.ToStatus();
  }

 private:
  void Problem(std::string message) { problems_.Add(line_, std::move(message)); }

  void User(std::string_view name) {
    if (name.empty()) return Problem("'user' needs a user name");
    user_ = std::string(name);
    have_user_ = true;
  }

  void Rule(std::string_view keyword, std::string_view rest) {
    std::string_view filter = rest;
    const std::string_view first = NextWord(&rest);
    if (first.empty()) return Problem(absl::StrCat("'", Av(keyword), "' needs a topic filter"));
    AclAccess access = AclAccess::kReadWrite;
    if (!rest.empty()) {  // two or more words: the first is the access type
      const std::optional<AclAccess> parsed = ParseAccess(first);
      if (!parsed) {
        return Problem(absl::StrCat("invalid access type ", Quote(first),
                                    " (expected read, write, readwrite or deny)"));
      }
      access = *parsed;
      filter = rest;
    } else if (ParseAccess(first)) {
      return Problem(absl::StrCat("'", Av(keyword), " ", Av(first),
                                  "' needs a topic filter after the access type (mosquitto "
                                  "would grant readwrite on a topic named ",
                                  Quote(first), ")"));
    }
    if (const std::string_view problem = RuleFilterProblem(filter); !problem.empty()) {
      return Problem(absl::StrCat("invalid topic filter ", Quote(filter), ": ", Av(problem)));
    }
    AclRule rule;
    rule.access = access;
    rule.filter = std::string(filter);
    rule.line = line_;
    if (keyword == "pattern") {
      rule.scope = AclScope::kPattern;
    } else if (have_user_) {
      rule.scope = AclScope::kUser;
      rule.user = user_;
    } else {
      rule.scope = AclScope::kAnonymous;
    }
    file_.rules.push_back(std::move(rule));
  }

  AclFile file_;
  int line_ = 0;
  bool have_user_ = false;
  std::string user_;
  Problems problems_;
};

}  // namespace

std::string_view AclAccessName(AclAccess access) {
  switch (access) {
    case AclAccess::kRead:
      return "read";
    case AclAccess::kWrite:
      return "write";
    case AclAccess::kReadWrite:
      return "readwrite";
    case AclAccess::kDeny:
      return "deny";
  }
  return "unknown";
}

absl::StatusOr<AclFile> ParseAclFile(std::string_view text, std::string_view filename) {
  Parser parser(filename);
  int number = 0;
  for (std::string_view line : SplitLines(text)) parser.Line(++number, line);
  return std::move(parser).Finish();
}

absl::StatusOr<AclFile> LoadAclFile(const std::string& path) {
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "acl file");
  if (!text.ok()) return text.status();
  return ParseAclFile(*text, path);
}

}  // namespace moat::policy
