// Text helpers every file loader shares: reading a whole file, cutting it into lines,
// and putting pieces of it into one-line messages. No YAML here; see problems.h for how
// the library fits together.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moat::file_reading {

// The whole file. InvalidArgument "PATH:1: cannot read WHAT: REASON" when it cannot be
// read, a folder included (a stream would read one as an empty file and a typo in a path
// would load as "no rules"). There is no line to point at, so the message names line 1
// and keeps the "FILE:LINE: message" shape of every other problem.
absl::StatusOr<std::string> ReadFileText(const std::string& path, std::string_view what);

// The pieces between `separator`s, empty ones included: "a$$b" gives "a", "", "b" and ""
// gives one empty piece.
std::vector<std::string_view> SplitOn(std::string_view text, char separator);

// The lines of `text` without their '\n'. A final newline ends the last line rather than
// starting an empty one, so "" has no lines, "a\n" one, "a\n\n" two. Line N (1-based) is
// element N-1, as the FILE:LINE of a message counts it.
std::vector<std::string_view> SplitLines(std::string_view text);

// `text` without isspace() characters (C locale: blank, \t \n \v \f \r) at either end,
// as mosquitto's misc__trimblanks() trims them, so CRLF files read like LF files.
std::string_view TrimSpace(std::string_view text);

// Text from a file, in single quotes, safe to put in a one-line message: control
// characters show as Printable() shows them, and only the first 60 bytes show, then "...",
// so a huge value cannot bury the rest.
std::string Quote(std::string_view text);

// `text` with each control character (a quoted YAML scalar may hold "\n") shown as \xNN,
// so it cannot break the one-problem-per-line output or drive a terminal.
std::string Printable(std::string_view text);

// " (did you mean 'address'?)" when `word` is a near miss of one of `known` (at most two
// edits away, the nearest winning, the first of equals) or a shortening of one ("max_packet"
// for "max_packet_size"), else "". Appended to "unknown key" and "must be one of" messages.
std::string DidYouMean(std::string_view word, std::span<const std::string_view> known);

}  // namespace moat::file_reading
