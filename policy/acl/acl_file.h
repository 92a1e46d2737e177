// mosquitto 2.x `acl_file`: parsed into rules with their line numbers. Sans-IO apart from
// LoadAclFile(); no sockets, no logging.
//
// The format, as mosquitto 2.0's aclfile__parse() (src/security_default.c) reads it:
//
//   # comment                      a line starting with '#'; blank lines are skipped
//   topic [ACCESS] FILTER          before any `user` line: for anonymous clients only
//   user NAME                      the rest of the line, blanks trimmed; may hold spaces
//   topic [ACCESS] FILTER          after it: for that user (blocks of one name merge)
//   pattern [ACCESS] FILTER        anywhere: for every client, %u = username, %c = client id
//
// ACCESS is read, write, readwrite or deny; without one the line grants readwrite. FILTER
// is the rest of the line with blanks trimmed, so it may hold spaces. `topic` filters are
// literal ("%u" there is two characters); only `pattern` lines substitute.
//
// Where moat differs, on purpose:
//   - Every problem is reported, as "FILE:LINE: message", and the file is refused.
//     mosquitto stops at the first one and names the file but not the line.
//   - `topic read` (an access word and nothing after it) is refused: mosquitto reads it as
//     readwrite on a topic literally named "read", which is never what was meant.
//   - Blanks are spaces or tabs (mosquitto splits on spaces only, so a tab-separated line
//     is an error there), and a comment may be indented (an error there too).
//   - A NUL byte is an error (mosquitto would silently cut the line at it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moat::policy {

enum class AclAccess : uint8_t { kRead, kWrite, kReadWrite, kDeny };
std::string_view AclAccessName(AclAccess access);

enum class AclScope : uint8_t {
  kAnonymous,  // a `topic` line before the first `user` line
  kUser,       // a `topic` line after a `user` line
  kPattern,    // a `pattern` line
};

struct AclRule {
  AclScope scope = AclScope::kAnonymous;
  std::string user;  // kUser only
  AclAccess access = AclAccess::kReadWrite;
  std::string filter;  // a valid topic filter
  int line = 0;
};

struct AclFile {
  std::string filename;        // as given; prefixes "FILE:LINE"
  std::vector<AclRule> rules;  // in file order
};

// Every problem in one InvalidArgument status, one "FILE:LINE: message" per line, ordered by
// line; an unreadable file is reported at line 1.
absl::StatusOr<AclFile> LoadAclFile(const std::string& path);
// The same for text already in memory; `filename` names the file in messages and rules.
absl::StatusOr<AclFile> ParseAclFile(std::string_view text, std::string_view filename);

}  // namespace moat::policy
