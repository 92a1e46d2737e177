// RuleLabels: the bounded, stable numbers behind moat_denials_total{rule}.
#include "policy/rule_labels.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace moat::policy {
namespace {

TEST(RuleLabels, FixedValuesComeFirst) {
  const RuleLabels labels;
  const std::vector<std::string> names = labels.Names();
  ASSERT_EQ(names.size(), RuleLabels::kCount);
  EXPECT_EQ(names[RuleLabels::kDefault], "default");
  EXPECT_EQ(names[RuleLabels::kAclFile], "acl_file");
  EXPECT_EQ(names[RuleLabels::kReservedTopic], "reserved_topic");
  EXPECT_EQ(names[RuleLabels::kOther], "other");
  EXPECT_EQ(names[RuleLabels::kFirstId], "");
}

TEST(RuleLabels, AnIdKeepsItsNumber) {
  RuleLabels labels;
  const uint16_t a = labels.Assign("a");
  const uint16_t b = labels.Assign("b");
  EXPECT_EQ(a, RuleLabels::kFirstId);
  EXPECT_EQ(b, RuleLabels::kFirstId + 1);
  EXPECT_EQ(labels.Assign("a"), a);
  EXPECT_EQ(labels.Names()[b], "b");
}

TEST(RuleLabels, BoundedAtMaxIdsTheRestAreOther) {
  RuleLabels labels;
  for (size_t i = 0; i < RuleLabels::kMaxIds; ++i) {
    EXPECT_EQ(labels.Assign("rule-" + std::to_string(i)), RuleLabels::kFirstId + i);
  }
  EXPECT_EQ(labels.Assign("one-too-many"), RuleLabels::kOther);
  EXPECT_EQ(labels.Assign("rule-7"), RuleLabels::kFirstId + 7);  // old ones keep theirs
  const std::vector<std::string> names = labels.Names();
  EXPECT_EQ(names.size(), RuleLabels::kCount);
  EXPECT_EQ(names.back(), "rule-" + std::to_string(RuleLabels::kMaxIds - 1));
}

TEST(RuleLabels, UnusableIdsAreOther) {
  RuleLabels labels;
  EXPECT_EQ(labels.Assign(""), RuleLabels::kOther);
  EXPECT_EQ(labels.Assign("default"), RuleLabels::kOther);  // the parser refuses these
  EXPECT_EQ(labels.Assign("other"), RuleLabels::kOther);
  EXPECT_EQ(labels.Assign(std::string(RuleLabels::kMaxIdLength + 1, 'x')), RuleLabels::kOther);
  EXPECT_EQ(labels.Assign("tab\there"), RuleLabels::kOther);
  EXPECT_EQ(labels.Assign("bad\xff"), RuleLabels::kOther);
  EXPECT_EQ(labels.Assign("\xc0\xaf"), RuleLabels::kOther);      // overlong '/'
  EXPECT_EQ(labels.Assign("\xed\xa0\x80"), RuleLabels::kOther);  // a surrogate
  EXPECT_EQ(labels.Assign(std::string(RuleLabels::kMaxIdLength, 'x')), RuleLabels::kFirstId);
  EXPECT_EQ(labels.Assign("Zürich-lager"), RuleLabels::kFirstId + 1);
  EXPECT_TRUE(RuleLabels::IsReservedId("acl_file"));
  EXPECT_FALSE(RuleLabels::IsReservedId("acl"));
}

TEST(RuleLabels, SafeFromManyThreads) {
  RuleLabels labels;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&labels] {
      for (int i = 0; i < 300; ++i) {
        labels.Assign("r" + std::to_string(i));
        labels.Names();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // 300 ids for 256 numbers: every number given out once, to one id.
  const std::vector<std::string> names = labels.Names();
  std::set<std::string> ids(names.begin() + RuleLabels::kFirstId, names.end());
  EXPECT_EQ(ids.size(), RuleLabels::kMaxIds);
  EXPECT_FALSE(ids.contains(""));
}

}  // namespace
}  // namespace moat::policy
