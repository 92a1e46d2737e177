// Problems: every problem of a file in one status, "FILE:LINE: message" ordered by line.
#include "policy/file_reading/problems.h"

#include <gtest/gtest.h>

namespace moat::file_reading {
namespace {

TEST(Problems, NoneIsOk) {
  const Problems problems("moat.yaml");
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(problems.ToStatus().ok());
}

TEST(Problems, ListsEveryProblemByLineKeepingTheOrderWithinALine) {
  Problems problems("moat.yaml");
  problems.Add(3, "third, first added");
  problems.Add(1, "first");
  problems.Add(3, "third, added later");
  problems.Add(2, "second");
  EXPECT_FALSE(problems.empty());
  const absl::Status status = problems.ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "moat.yaml:1: first\n"
            "moat.yaml:2: second\n"
            "moat.yaml:3: third, first added\n"
            "moat.yaml:3: third, added later");
}

// yaml-cpp places an unclosed bracket or a made-up null at the end of the input, on the
// line after the final newline.
TEST(Problems, GivenTheTextKeepsEveryLineWithinIt) {
  Problems problems("moat.yaml", "a: [\nb\n");
  problems.Add(3, "past the end");
  problems.Add(2, "on the last line");
  EXPECT_EQ(problems.ToStatus().message(),
            "moat.yaml:2: past the end\n"
            "moat.yaml:2: on the last line");
  Problems empty("moat.yaml", "");
  empty.Add(2, "the config is empty");
  EXPECT_EQ(empty.ToStatus().message(), "moat.yaml:1: the config is empty");
}

}  // namespace
}  // namespace moat::file_reading
