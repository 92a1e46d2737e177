// `moat passwd [-D] FILE USER`: mosquitto_passwd's add/update/delete, on the same file
// format, without its pitfalls (it drops every line after a comment, exits 0 when it
// fails to parse, and creates files world-readable).
#pragma once

#include <iostream>
#include <string>
#include <vector>

namespace moat::policy {

// `args` are the words after "passwd": "[-D] [--] FILE USER".
//
// Without -D, reads the password from `stdin_fd` and adds USER with a new $7$ entry
// (101 PBKDF2 iterations, as mosquitto_passwd) or replaces USER's entry where it stands,
// creating FILE (mode 0600) if it does not exist. When `stdin_is_tty`, it prompts on
// `err`, turns echo off while reading and asks twice; otherwise it reads one line (a
// trailing "\n" or "\r\n" is not part of the password). With -D, deletes USER; a missing
// user or file is an error. Comments, blank lines and every other entry are kept as they
// were; the file is replaced atomically. A file with problems is left alone and each
// problem is printed as "FILE:LINE: message".
//
// Writes nothing to stdout; messages go to `err`. Returns the process exit code: 0 done,
// 1 anything else (usage, unreadable or invalid file, empty or mismatched password).
int RunPasswdCommand(const std::vector<std::string>& args, int stdin_fd, bool stdin_is_tty,
                     std::ostream& err = std::cerr);

}  // namespace moat::policy
