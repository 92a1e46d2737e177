// Strict reading of YAML maps, for moat.yaml (proxy/config) and the native policy
// (policy/acl). Every problem goes into Problems with its line and reading carries on; the
// contract says nothing in a file is silently ignored, so unknown, duplicate and
// non-scalar keys and a second document are problems too.
//
//   text --ParseDocument()--> YAML::Node --MapReader--> Field{key, path, line, value}
//                                               |                  |
//                                               |          ReadBool(), Expect*(), ...
//                                               v                  v
//             unknown key (did you mean ...?), duplicate key --> Problems --> FILE:LINE
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/file_reading/problems.h"
#include "yaml-cpp/yaml.h"

namespace moat::file_reading {

// 1-based line of `node` for messages; 1 when yaml-cpp recorded no position.
int LineOf(const YAML::Node& node);

// 1-based line of a yaml-cpp mark (of an error); 1 when there is none.
int LineOf(const YAML::Mark& mark);

// yaml-cpp's message for `error`, safe in a one-line message: it may hold a character of
// the file ("unknown escape character: ...").
std::string ErrorMessage(const YAML::Exception& error);

// The document in `text`: a Null node when there is none (an empty file). A syntax error
// is reported as "YAML syntax error: ..." and gives nullopt; a second document is
// reported (moat would ignore it), and the first returned. Give `problems` the text
// (Problems(file, text)): yaml-cpp may place a problem past the last line.
std::optional<YAML::Node> ParseDocument(std::string_view text, Problems& problems);

// What a value is, for "must be X, got Y": a scalar quoted (Quote()), else "a list",
// "a map" or "nothing".
std::string Describe(const YAML::Node& node);

// One "key: value" of a map, or one element of a list, with what messages need to point
// at it.
struct Field {
  std::string key;   // as written; "" for a list element
  std::string path;  // dotted path for messages, e.g. "listeners[0].tls.cert" (Printable())
  int line = 1;      // line of the key (of the element for a list element)
  YAML::Node value;
};

// The entries of one YAML map, checked on construction: unknown keys (with a suggestion),
// repeated keys (yaml-cpp keeps both; which one wins would be a guess) and keys that are
// not plain strings are reported and left out.
class MapReader {
 public:
  // `map` must be a map. `path` names it in messages ("" for the top level); `line` is
  // where it starts, for "missing required key" (the line of its parent key).
  MapReader(const YAML::Node& map, std::string path, int line,
            std::initializer_list<std::string_view> known_keys, Problems& problems);
  MapReader(const YAML::Node& map, std::string path, int line,
            std::span<const std::string_view> known_keys, Problems& problems);
  // Any key is known: the keys are names the writer chooses (group names).
  MapReader(const YAML::Node& map, std::string path, int line, Problems& problems);

  // The entry for `key`, or nullptr when the map does not have it.
  const Field* Find(std::string_view key) const;
  // Like Find(), but reports "missing required key" when absent.
  const Field* Require(std::string_view key);
  // Every accepted entry, in file order.
  const std::vector<Field>& fields() const { return fields_; }

  const std::string& path() const { return path_; }
  int line() const { return line_; }

 private:
  void Read(const YAML::Node& map, std::optional<std::span<const std::string_view>> known_keys);

  std::string path_;
  int line_;
  Problems& problems_;
  std::vector<Field> fields_;
};

// The elements of a list field, each with path "PATH[i]" and its own line. `list` must
// hold a sequence (ExpectSequence()).
std::vector<Field> Elements(const Field& list);

// Reports "'PATH' must be WHAT, got VALUE" at the field's line.
void ReportExpected(const Field& field, std::string_view what, Problems& problems);
// Type checks that report "'PATH' must be a map (a list), got VALUE" and return false on
// a mismatch.
bool ExpectMap(const Field& field, Problems& problems);
bool ExpectSequence(const Field& field, Problems& problems);
// true/false (and YAML's other spellings of them), or nullopt with the problem recorded.
std::optional<bool> ReadBool(const Field& field, Problems& problems);
// A non-empty scalar, or nullopt with "'PATH' must be a non-empty string" recorded.
std::optional<std::string> ReadNonEmptyString(const Field& field, Problems& problems);

}  // namespace moat::file_reading
