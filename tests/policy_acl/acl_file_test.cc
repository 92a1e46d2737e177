// ParseAclFile: every line form of mosquitto 2.0's acl_file, and every problem class with
// its exact "FILE:LINE: message".
#include "policy/acl/acl_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace moat::policy {
namespace {

AclFile Parse(std::string_view text) {
  absl::StatusOr<AclFile> file = ParseAclFile(text, "acl");
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *file : AclFile{};
}

std::string Errors(std::string_view text) {
  absl::StatusOr<AclFile> file = ParseAclFile(text, "acl");
  EXPECT_FALSE(file.ok());
  if (file.ok()) return "";
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(file.status().message());
}

TEST(AclFile, ParsesMosquittosExampleFile) {
  // aclfile.example from the mosquitto 2.0 source tree.
  const AclFile file = Parse(
      "# This affects access control for clients with no username.\n"
      "topic read $SYS/#\n"
      "\n"
      "# This only affects clients with username \"roger\".\n"
      "user roger\n"
      "topic foo/bar\n"
      "\n"
      "# This affects all clients.\n"
      "pattern write $SYS/broker/connection/%c/state\n");
  ASSERT_EQ(file.rules.size(), 3u);
  EXPECT_EQ(file.rules[0].scope, AclScope::kAnonymous);
  EXPECT_EQ(file.rules[0].access, AclAccess::kRead);
  EXPECT_EQ(file.rules[0].filter, "$SYS/#");
  EXPECT_EQ(file.rules[0].line, 2);
  EXPECT_EQ(file.rules[1].scope, AclScope::kUser);
  EXPECT_EQ(file.rules[1].user, "roger");
  EXPECT_EQ(file.rules[1].access, AclAccess::kReadWrite);  // no access given: readwrite
  EXPECT_EQ(file.rules[1].line, 6);
  EXPECT_EQ(file.rules[2].scope, AclScope::kPattern);
  EXPECT_EQ(file.rules[2].access, AclAccess::kWrite);
  EXPECT_EQ(file.rules[2].filter, "$SYS/broker/connection/%c/state");
  EXPECT_EQ(file.rules[2].line, 9);
}

TEST(AclFile, ReadsEveryAccessType) {
  const AclFile file = Parse(
      "topic read a\ntopic write b\ntopic readwrite c\ntopic deny d\ntopic e\n"
      "pattern read f\npattern write g\npattern readwrite h\npattern deny i\npattern j\n");
  ASSERT_EQ(file.rules.size(), 10u);
  const AclAccess expected[] = {AclAccess::kRead, AclAccess::kWrite, AclAccess::kReadWrite,
                                AclAccess::kDeny, AclAccess::kReadWrite};
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(file.rules[i].access, expected[i % 5]) << i;
    EXPECT_EQ(file.rules[i].scope, i < 5 ? AclScope::kAnonymous : AclScope::kPattern) << i;
  }
}

TEST(AclFile, UserNameIsTheRestOfTheLineTrimmed) {
  const AclFile file = Parse("user   John Smith  \ntopic a\nuser x\ttab\ntopic b\n");
  ASSERT_EQ(file.rules.size(), 2u);
  EXPECT_EQ(file.rules[0].user, "John Smith");
  EXPECT_EQ(file.rules[1].user, "x\ttab");
}

TEST(AclFile, TopicIsTheRestOfTheLineAndMayHoldSpaces) {
  const AclFile file = Parse("topic read  my topic/with spaces  \n");
  ASSERT_EQ(file.rules.size(), 1u);
  EXPECT_EQ(file.rules[0].filter, "my topic/with spaces");
}

TEST(AclFile, PatternLinesAfterAUserStillApplyToEveryone) {
  const AclFile file = Parse("user alice\npattern read %u/#\ntopic a\n");
  ASSERT_EQ(file.rules.size(), 2u);
  EXPECT_EQ(file.rules[0].scope, AclScope::kPattern);
  EXPECT_EQ(file.rules[1].scope, AclScope::kUser);
  EXPECT_EQ(file.rules[1].user, "alice");
}

TEST(AclFile, SkipsCommentsBlankLinesAndCarriageReturns) {
  const AclFile file = Parse("# comment\n\n   \n  # indented comment\r\ntopic read a/b\r\n\t\n");
  ASSERT_EQ(file.rules.size(), 1u);
  EXPECT_EQ(file.rules[0].filter, "a/b");
  EXPECT_EQ(file.rules[0].line, 5);
}

TEST(AclFile, HashAsTopicIsNotAComment) {
  const AclFile file = Parse("topic read #\n");
  ASSERT_EQ(file.rules.size(), 1u);
  EXPECT_EQ(file.rules[0].filter, "#");
}

TEST(AclFile, AcceptsTabsBetweenWords) {
  const AclFile file = Parse("topic\tread\ta/b\n");
  ASSERT_EQ(file.rules.size(), 1u);
  EXPECT_EQ(file.rules[0].access, AclAccess::kRead);
  EXPECT_EQ(file.rules[0].filter, "a/b");
}

TEST(AclFile, LastLineWithoutNewline) {
  const AclFile file = Parse("topic a\ntopic b");
  ASSERT_EQ(file.rules.size(), 2u);
  EXPECT_EQ(file.rules[1].line, 2);
}

TEST(AclFile, EmptyFileHasNoRules) { EXPECT_TRUE(Parse("").rules.empty()); }

TEST(AclFile, ReportsUnknownKeyword) {
  EXPECT_EQ(Errors("topic a\nTopic read b\n"),
            "acl:2: unknown keyword 'Topic' (expected 'user', 'topic' or 'pattern')");
}

TEST(AclFile, ReportsMissingUserName) {
  EXPECT_EQ(Errors("user\n"), "acl:1: 'user' needs a user name");
  EXPECT_EQ(Errors("user   \t\n"), "acl:1: 'user' needs a user name");
}

TEST(AclFile, ReportsMissingTopic) {
  EXPECT_EQ(Errors("topic\n"), "acl:1: 'topic' needs a topic filter");
  EXPECT_EQ(Errors("pattern  \n"), "acl:1: 'pattern' needs a topic filter");
}

TEST(AclFile, ReportsAccessTypeWithoutTopic) {
  EXPECT_EQ(Errors("topic read\n"),
            "acl:1: 'topic read' needs a topic filter after the access type (mosquitto would "
            "grant readwrite on a topic named 'read')");
  EXPECT_THAT(Errors("pattern deny\n"), ::testing::StartsWith("acl:1: 'pattern deny' needs"));
}

TEST(AclFile, ReportsBadAccessType) {
  EXPECT_EQ(Errors("topic reed a/b\n"),
            "acl:1: invalid access type 'reed' (expected read, write, readwrite or deny)");
  // A topic with a space needs an access type first, as in mosquitto.
  EXPECT_EQ(Errors("topic my topic\n"),
            "acl:1: invalid access type 'my' (expected read, write, readwrite or deny)");
  EXPECT_EQ(Errors("topic READ a\n"),
            "acl:1: invalid access type 'READ' (expected read, write, readwrite or deny)");
}

TEST(AclFile, ReportsInvalidTopicFilters) {
  EXPECT_EQ(Errors("topic read a/#/b\n"),
            "acl:1: invalid topic filter 'a/#/b': '#' must be the last level");
  EXPECT_EQ(Errors("topic read a+\n"),
            "acl:1: invalid topic filter 'a+': '+' must fill a whole level");
  EXPECT_EQ(Errors("pattern read %u#\n"),
            "acl:1: invalid topic filter '%u#': '#' must fill a whole level");
  // A trailing comment is part of the topic, as in mosquitto.
  EXPECT_EQ(Errors("topic read a/b # note\n"),
            "acl:1: invalid topic filter 'a/b # note': '#' must fill a whole level");
  std::string deep = "topic read a";
  for (int i = 0; i < 201; ++i) deep += "/a";
  EXPECT_THAT(Errors(deep), ::testing::EndsWith("has at most 200 '/' (mosquitto's limit)"));
}

TEST(AclFile, ReportsNulByte) {
  EXPECT_EQ(Errors(std::string("topic read a\0b\n", 15)), "acl:1: the line holds a NUL byte");
}

TEST(AclFile, ReportsEveryProblemInLineOrder) {
  EXPECT_EQ(Errors("topic a\nfoo\ntopic read\nuser\ntopic x y\ntopic read +a\n"),
            "acl:2: unknown keyword 'foo' (expected 'user', 'topic' or 'pattern')\n"
            "acl:3: 'topic read' needs a topic filter after the access type (mosquitto would "
            "grant readwrite on a topic named 'read')\n"
            "acl:4: 'user' needs a user name\n"
            "acl:5: invalid access type 'x' (expected read, write, readwrite or deny)\n"
            "acl:6: invalid topic filter '+a': '+' must fill a whole level");
}

TEST(AclFile, QuotesControlCharactersInMessages) {
  EXPECT_EQ(Errors("\x1b[31m\n"),
            "acl:1: unknown keyword '\\x1B[31m' (expected 'user', 'topic' or 'pattern')");
}

TEST(AclFile, LoadNamesTheFileAndReportsUnreadableAtLineOne) {
  char path[] = "/tmp/moat-acl-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "user bob\ntopic read a\nbogus\n";
  absl::StatusOr<AclFile> file = LoadAclFile(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), std::string(path) +
                                         ":3: unknown keyword 'bogus' (expected 'user', 'topic' or "
                                         "'pattern')");
  std::remove(path);
  file = LoadAclFile(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(),
            std::string(path) + ":1: cannot read acl file: No such file or directory");
}

// A stream reads a folder as an empty file, which would load as an acl_file without rules.
TEST(AclFile, LoadRefusesAFolder) {
  char path[] = "/tmp/moat-acl-XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  const absl::StatusOr<AclFile> file = LoadAclFile(path);
  rmdir(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(),
            std::string(path) + ":1: cannot read acl file: Is a directory");
}

}  // namespace
}  // namespace moat::policy
