// The text helpers every file loader shares: reading, lines, trimming, quoting and
// "did you mean" suggestions.
#include "policy/file_reading/file_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/file_reading/temp_dir.h"

namespace moat::file_reading {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Strings(const std::vector<std::string_view>& pieces) {
  return {pieces.begin(), pieces.end()};
}

TEST(ReadFileText, ReadsEveryByte) {
  test::TempDir dir;
  const std::string text("a: 1\r\n\0b\n", 9);
  const std::string path = dir.Write("file", text);
  const absl::StatusOr<std::string> read = ReadFileText(path, "test file");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, text);
}

TEST(ReadFileText, NamesTheFileAndTheReasonAtLineOne) {
  test::TempDir dir;
  const absl::StatusOr<std::string> missing = ReadFileText(dir.File("missing"), "acl file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(),
            dir.File("missing") + ":1: cannot read acl file: No such file or directory");
}

// A stream reads a folder as an empty file: an acl_file path naming a folder would load
// as a policy without rules.
TEST(ReadFileText, RefusesAFolder) {
  test::TempDir dir;
  EXPECT_EQ(ReadFileText(dir.path(), "acl file").status().message(),
            dir.path() + ":1: cannot read acl file: Is a directory");
}

TEST(SplitOn, KeepsEmptyPieces) {
  EXPECT_THAT(Strings(SplitOn("7$$salt$", '$')), ElementsAre("7", "", "salt", ""));
  EXPECT_THAT(Strings(SplitOn("", '$')), ElementsAre(""));
}

TEST(SplitLines, AFinalNewlineEndsTheLastLine) {
  EXPECT_THAT(Strings(SplitLines("")), ElementsAre());
  EXPECT_THAT(Strings(SplitLines("a")), ElementsAre("a"));
  EXPECT_THAT(Strings(SplitLines("a\n")), ElementsAre("a"));
  EXPECT_THAT(Strings(SplitLines("a\n\n")), ElementsAre("a", ""));
  EXPECT_THAT(Strings(SplitLines("\nb\r\nc")), ElementsAre("", "b\r", "c"));
}

TEST(TrimSpace, TrimsWhatIsspaceCountsAtBothEnds) {
  EXPECT_EQ(TrimSpace(" \t\v\f a b \r\n"), "a b");
  EXPECT_EQ(TrimSpace(" \n "), "");
  EXPECT_EQ(TrimSpace("\xA0x\xA0"), "\xA0x\xA0");  // not a C-locale space
}

TEST(Quote, QuotesPlainText) { EXPECT_EQ(Quote("listener"), "'listener'"); }

TEST(Quote, ShowsControlCharactersAsHex) {
  EXPECT_EQ(Quote(std::string_view("a\nb\x7F\0", 5)), "'a\\x0Ab\\x7F\\x00'");
  EXPECT_EQ(Quote("\x1b[31m"), "'\\x1B[31m'");
  EXPECT_EQ(Quote("caf\xC3\xA9"), "'caf\xC3\xA9'");  // UTF-8 stays readable
}

TEST(Printable, ShowsOnlyControlCharactersAsHex) {
  EXPECT_EQ(Printable(std::string_view("it's\t\0\x7F\xC3\xA9", 9)), "it's\\x09\\x00\\x7F\xC3\xA9");
  EXPECT_EQ(Printable(std::string(100, 'x')), std::string(100, 'x'));
}

TEST(Quote, ShowsTheFirstSixtyBytesOfALongText) {
  EXPECT_EQ(Quote(std::string(60, 'x')), "'" + std::string(60, 'x') + "'");
  EXPECT_EQ(Quote(std::string(61, 'x')), "'" + std::string(60, 'x') + "...'");
}

constexpr std::string_view kLimits[] = {"connect_timeout", "drain_timeout", "max_packet_size",
                                        "max_connections"};

TEST(DidYouMean, SuggestsANearMiss) {
  EXPECT_EQ(DidYouMean("drain_timout", kLimits), " (did you mean 'drain_timeout'?)");
  EXPECT_EQ(DidYouMean("max_conections", kLimits), " (did you mean 'max_connections'?)");
}

TEST(DidYouMean, SuggestsTheKeyAShortenedNameStartsWith) {
  EXPECT_EQ(DidYouMean("max_packet", kLimits), " (did you mean 'max_packet_size'?)");
  // Three letters are too few to guess from.
  constexpr std::string_view kKeys[] = {"address"};
  EXPECT_EQ(DidYouMean("add", kKeys), "");
}

TEST(DidYouMean, TheNearestWinsAndTheFirstOfEquals) {
  constexpr std::string_view kKeys[] = {"model", "mode"};
  EXPECT_EQ(DidYouMean("mod", kKeys), " (did you mean 'mode'?)");
  constexpr std::string_view kTies[] = {"bind", "kind"};
  EXPECT_EQ(DidYouMean("find", kTies), " (did you mean 'bind'?)");
}

TEST(DidYouMean, SuggestsNothingMoreThanTwoEditsAway) {
  EXPECT_EQ(DidYouMean("timeout", kLimits), "");
  EXPECT_EQ(DidYouMean("", kLimits), "");
}

}  // namespace
}  // namespace moat::file_reading
