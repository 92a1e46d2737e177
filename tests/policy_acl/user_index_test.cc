// UserIndex: exact, case-sensitive lookups of short, long and empty names.
#include "policy/acl/user_index.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace moat::policy {
namespace {

TEST(UserIndex, FindsEveryNameAndNothingElse) {
  std::vector<std::pair<std::string, uint64_t>> entries;
  for (uint32_t i = 0; i < 5000; ++i) {
    entries.emplace_back("user" + std::to_string(i) + (i % 3 == 0 ? "-with-a-long-suffix" : ""), i);
  }
  entries.emplace_back("", 9999);
  entries.emplace_back("wide", uint64_t{7} << 40 | 3);  // values use all 64 bits
  const UserIndex index(entries);
  for (const auto& [name, value] : entries) EXPECT_EQ(index.Find(name), value) << name;
  EXPECT_EQ(index.Find("user1-with-a-long-suffix"), UserIndex::kNone);
  EXPECT_EQ(index.Find("User1"), UserIndex::kNone);
  EXPECT_EQ(index.Find("user0-with-a-long-suffiX"), UserIndex::kNone);
  EXPECT_EQ(index.Find("user0-with-a-long-suffi"), UserIndex::kNone);
}

TEST(UserIndex, EmptyIndexFindsNothing) {
  EXPECT_EQ(UserIndex().Find("a"), UserIndex::kNone);
  EXPECT_EQ(UserIndex(std::vector<std::pair<std::string, uint64_t>>{}).Find(""), UserIndex::kNone);
}

TEST(UserIndex, NamesOfSixteenAndSeventeenBytes) {
  const UserIndex index({{std::string(16, 'x'), 1}, {std::string(17, 'x'), 2}});
  EXPECT_EQ(index.Find(std::string(16, 'x')), 1u);
  EXPECT_EQ(index.Find(std::string(17, 'x')), 2u);
  EXPECT_EQ(index.Find(std::string(15, 'x')), UserIndex::kNone);
}

}  // namespace
}  // namespace moat::policy
