// Strict YAML maps: every unknown, repeated or odd key is a problem at its line, and type
// mismatches read "'PATH' must be X, got Y".
#include "policy/file_reading/yaml_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace moat::file_reading {
namespace {

using ::testing::ElementsAre;

constexpr std::string_view kKeys[] = {"address", "tls", "connect_timeout"};

// The problems ParseDocument() finds in `yaml`, then, given `map_path`, those of a
// MapReader of kKeys that reads the top-level map under that name.
std::string ProblemsIn(std::string_view yaml, std::optional<std::string> map_path = std::nullopt) {
  Problems problems("f", yaml);
  const std::optional<YAML::Node> root = ParseDocument(yaml, problems);
  if (root && map_path) MapReader(*root, *map_path, 1, kKeys, problems);
  return std::string(problems.ToStatus().message());
}

YAML::Node Parse(std::string_view yaml) {
  Problems problems("f");
  const std::optional<YAML::Node> root = ParseDocument(yaml, problems);
  EXPECT_TRUE(problems.empty()) << problems.ToStatus();
  return root.value_or(YAML::Node());
}

Field TopField(const YAML::Node& root, std::string_view key) {
  Problems problems("f");
  const MapReader map(root, "", 1, problems);
  const Field* field = map.Find(key);
  EXPECT_NE(field, nullptr) << key;
  return field ? *field : Field{};
}

TEST(LineOf, IsOneBased) {
  const YAML::Node root = Parse("a: 1\nb:\n  - x\n");
  EXPECT_EQ(LineOf(root["a"]), 1);
  EXPECT_EQ(LineOf(root["b"][0]), 3);
}

TEST(ParseDocument, AnEmptyFileIsANullDocument) {
  EXPECT_TRUE(Parse("").IsNull());
  EXPECT_TRUE(Parse("# only a comment\n").IsNull());
}

TEST(ParseDocument, ReportsASyntaxErrorWithinTheFile) {
  // yaml-cpp finds the unclosed bracket at the end of input, past the last line.
  EXPECT_EQ(ProblemsIn("a: 1\nb: [\n"), "f:2: YAML syntax error: end of sequence flow not found");
}

// yaml-cpp names the character it could not read, raw: a control character there would
// break the one-problem-per-line output.
TEST(ParseDocument, ShowsControlCharactersInYamlCppsMessage) {
  EXPECT_EQ(ProblemsIn("a: \"\\\x1b[31m\"\n"),
            "f:1: YAML syntax error: unknown escape character: \\x1B");
}

// yaml-cpp 0.7 reads a ',' where a document starts as an empty document and stays
// there: YAML::LoadAll() returned empty documents until memory ran out.
TEST(ParseDocument, ReportsAStrayCommaInsteadOfReadingEmptyDocumentsForever) {
  EXPECT_EQ(ProblemsIn(",a: 1\n"), "f:1: YAML syntax error: unexpected ','");
  EXPECT_EQ(ProblemsIn("---\n---\n, b\n"), "f:3: only one YAML document is allowed");
}

TEST(ParseDocument, ReportsAnEmptySecondDocumentOnTheLastLine) {
  EXPECT_EQ(ProblemsIn("a: 1\n---\n"), "f:2: only one YAML document is allowed");
}

TEST(ParseDocument, ReportsASecondDocument) {
  Problems problems("f");
  const std::optional<YAML::Node> root = ParseDocument("a: 1\n---\nb: 2\n", problems);
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE((*root)["a"].IsDefined());
  EXPECT_EQ(problems.ToStatus().message(), "f:3: only one YAML document is allowed");
}

TEST(Describe, NamesWhatAValueIs) {
  const YAML::Node root = Parse("s: \"a\\nb\"\nl: []\nm: {}\nn:\n");
  EXPECT_EQ(Describe(root["s"]), "'a\\x0Ab'");
  EXPECT_EQ(Describe(root["l"]), "a list");
  EXPECT_EQ(Describe(root["m"]), "a map");
  EXPECT_EQ(Describe(root["n"]), "nothing");
}

TEST(MapReader, KeepsKnownKeysInFileOrderWithPathsAndLines) {
  Problems problems("f");
  const YAML::Node root = Parse("tls: {}\naddress: x\n");
  const MapReader map(root, "upstream", 4, kKeys, problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(map.fields().size(), 2u);
  EXPECT_EQ(map.fields()[0].key, "tls");
  EXPECT_EQ(map.fields()[0].path, "upstream.tls");
  EXPECT_EQ(map.fields()[1].line, 2);
  EXPECT_EQ(map.Find("address"), &map.fields()[1]);
  EXPECT_EQ(map.Find("connect_timeout"), nullptr);
}

TEST(MapReader, ReportsUnknownKeysWithASuggestion) {
  EXPECT_EQ(ProblemsIn("adress: x\nbogus: 1\n", "upstream"),
            "f:1: unknown key 'adress' in 'upstream' (did you mean 'address'?)\n"
            "f:2: unknown key 'bogus' in 'upstream'");
  EXPECT_EQ(ProblemsIn("tsl: 1\n", ""),
            "f:1: unknown key 'tsl' at the top level (did you mean 'tls'?)");
}

TEST(MapReader, ReportsRepeatedKeysAndKeepsTheFirst) {
  Problems problems("f");
  const YAML::Node root = Parse("tls: 1\naddress: x\ntls: 2\n");
  const MapReader map(root, "upstream", 1, kKeys, problems);
  EXPECT_EQ(problems.ToStatus().message(),
            "f:3: duplicate key 'tls' in 'upstream' (first at line 1)");
  ASSERT_NE(map.Find("tls"), nullptr);
  EXPECT_EQ(map.Find("tls")->value.Scalar(), "1");
}

TEST(MapReader, ReportsKeysThatAreNotPlainNames) {
  EXPECT_EQ(ProblemsIn("? [a]\n: 1\n? {b: 1}\n: 2\n", ""),
            "f:1: keys must be plain names, not a list at the top level\n"
            "f:3: keys must be plain names, not a map at the top level");
}

// yaml-cpp places the null key of a final "? " after the last line.
TEST(MapReader, ReportsANullKeyAtTheEndOnTheLastLine) {
  EXPECT_EQ(ProblemsIn("tls: 1\n? \n", ""),
            "f:2: keys must be plain names, not nothing at the top level");
}

TEST(MapReader, WithoutKnownKeysAcceptsAnyNameButNotTwice) {
  Problems problems("f");
  const YAML::Node root = Parse("operators: [a]\nguests: []\noperators: [b]\n");
  const MapReader map(root, "groups", 1, problems);
  EXPECT_EQ(problems.ToStatus().message(),
            "f:3: duplicate key 'operators' in 'groups' (first at line 1)");
  ASSERT_EQ(map.fields().size(), 2u);
  EXPECT_EQ(map.fields()[1].path, "groups.guests");
}

TEST(MapReader, PathsShowControlCharactersOfKeysAsHex) {
  Problems problems("f");
  const YAML::Node root = Parse("\"a\\nb\": [x]\n");
  const MapReader map(root, "groups", 1, problems);
  ASSERT_EQ(map.fields().size(), 1u);
  EXPECT_EQ(map.fields()[0].key, "a\nb");
  EXPECT_EQ(map.fields()[0].path, "groups.a\\x0Ab");
}

TEST(MapReader, RequireReportsAMissingKeyAtTheMapsLine) {
  Problems problems("f");
  const YAML::Node root = Parse("tls: 1\n");
  MapReader nested(root, "upstream", 7, kKeys, problems);
  MapReader top(root, "", 1, kKeys, problems);
  EXPECT_NE(nested.Require("tls"), nullptr);
  EXPECT_EQ(nested.Require("address"), nullptr);
  EXPECT_EQ(top.Require("address"), nullptr);
  EXPECT_EQ(problems.ToStatus().message(),
            "f:1: missing required key 'address'\n"
            "f:7: missing required key 'address' in 'upstream'");
}

TEST(Elements, NameEachElementByIndexAtItsLine) {
  const Field list = TopField(Parse("listeners:\n  - a\n\n  - b\n"), "listeners");
  const std::vector<Field> elements = Elements(list);
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[0].path, "listeners[0]");
  EXPECT_EQ(elements[0].line, 2);
  EXPECT_EQ(elements[1].path, "listeners[1]");
  EXPECT_EQ(elements[1].line, 4);
  EXPECT_EQ(elements[1].key, "");
}

TEST(TypeChecks, SayWhatWasExpectedAndWhatWasFound) {
  const YAML::Node root = Parse("m: x\nl: {}\nb: maybe\nt: yes\n");
  Problems problems("f");
  EXPECT_FALSE(ExpectMap(TopField(root, "m"), problems));
  EXPECT_FALSE(ExpectSequence(TopField(root, "l"), problems));
  EXPECT_TRUE(ExpectMap(TopField(root, "l"), problems));
  EXPECT_EQ(ReadBool(TopField(root, "b"), problems), std::nullopt);
  EXPECT_EQ(ReadBool(TopField(root, "t"), problems), true);
  ReportExpected(TopField(root, "t"), "a number", problems);
  EXPECT_EQ(problems.ToStatus().message(),
            "f:1: 'm' must be a map, got 'x'\n"
            "f:2: 'l' must be a list, got a map\n"
            "f:3: 'b' must be true or false, got 'maybe'\n"
            "f:4: 't' must be a number, got 'yes'");
}

}  // namespace
}  // namespace moat::file_reading
