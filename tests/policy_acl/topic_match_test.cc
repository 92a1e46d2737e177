// Topic names vs filters (PUBLISH, delivery), filter vs filter (SUBSCRIBE: covers,
// intersects), validity, and the shared-subscription prefixes.
#include "policy/acl/topic_match.h"

#include <gtest/gtest.h>

#include <string>

namespace moat::policy {
namespace {

TEST(SplitLevels, KeepsEmptyLevels) {
  EXPECT_EQ(SplitLevels("a//b"), (Levels{"a", "", "b"}));
  EXPECT_EQ(SplitLevels("/"), (Levels{"", ""}));
  EXPECT_EQ(SplitLevels("/a/"), (Levels{"", "a", ""}));
  EXPECT_EQ(SplitLevels("a"), (Levels{"a"}));
}

TEST(TopicMatchesFilter, LiteralLevelsMatchExactly) {
  EXPECT_TRUE(TopicMatchesFilter("a/b/c", "a/b/c"));
  EXPECT_FALSE(TopicMatchesFilter("a/b/c", "a/b"));
  EXPECT_FALSE(TopicMatchesFilter("a/b", "a/b/c"));
  EXPECT_FALSE(TopicMatchesFilter("a/b/c", "a/b/d"));
}

TEST(TopicMatchesFilter, IsCaseSensitive) {
  EXPECT_FALSE(TopicMatchesFilter("ACCOUNTS", "accounts"));
  EXPECT_FALSE(TopicMatchesFilter("a/B", "a/b"));
}

TEST(TopicMatchesFilter, PlusMatchesExactlyOneLevel) {
  EXPECT_TRUE(TopicMatchesFilter("a/b/c", "a/+/c"));
  EXPECT_TRUE(TopicMatchesFilter("a", "+"));
  EXPECT_FALSE(TopicMatchesFilter("a/b", "+"));
  EXPECT_FALSE(TopicMatchesFilter("a/b/x/c", "a/+/c"));
  EXPECT_FALSE(TopicMatchesFilter("a/c", "a/+/c"));
  EXPECT_TRUE(TopicMatchesFilter("a/b", "+/+"));
}

TEST(TopicMatchesFilter, PlusMatchesAnEmptyLevel) {
  EXPECT_TRUE(TopicMatchesFilter("a//c", "a/+/c"));
  EXPECT_TRUE(TopicMatchesFilter("/finance", "+/+"));
  EXPECT_TRUE(TopicMatchesFilter("/finance", "/+"));
  EXPECT_FALSE(TopicMatchesFilter("/finance", "+"));
  EXPECT_TRUE(TopicMatchesFilter("a/", "a/+"));
}

TEST(TopicMatchesFilter, HashMatchesTheRestAndTheParent) {
  EXPECT_TRUE(TopicMatchesFilter("sport/tennis/player1", "sport/tennis/player1/#"));
  EXPECT_TRUE(TopicMatchesFilter("sport/tennis/player1/ranking", "sport/tennis/player1/#"));
  EXPECT_TRUE(TopicMatchesFilter("sport/tennis/player1/score/wimbledon", "sport/#"));
  EXPECT_TRUE(TopicMatchesFilter("sport", "sport/#"));  // [MQTT-4.7.1-2] parent level
  EXPECT_TRUE(TopicMatchesFilter("a/b", "a/+/#"));
  EXPECT_TRUE(TopicMatchesFilter("anything/at/all", "#"));
  EXPECT_FALSE(TopicMatchesFilter("sports", "sport/#"));
  EXPECT_TRUE(TopicMatchesFilter("sport/", "sport/#"));
}

TEST(TopicMatchesFilter, EmptyLevelsCount) {
  EXPECT_TRUE(TopicMatchesFilter("a//b", "a//b"));
  EXPECT_FALSE(TopicMatchesFilter("a//b", "a/b"));
  EXPECT_FALSE(TopicMatchesFilter("a/b", "a//b"));
  EXPECT_TRUE(TopicMatchesFilter("/", "/"));
  EXPECT_TRUE(TopicMatchesFilter("/", "+/+"));
  EXPECT_TRUE(TopicMatchesFilter("/a", "/#"));
}

TEST(TopicMatchesFilter, WildcardsNeverMatchAFirstLevelStartingWithDollar) {
  // [MQTT-4.7.2-1]
  EXPECT_FALSE(TopicMatchesFilter("$SYS/broker/load", "#"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS/broker/load", "+/broker/load"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS", "+"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS", "#"));
  EXPECT_TRUE(TopicMatchesFilter("$SYS/broker/load", "$SYS/#"));
  EXPECT_TRUE(TopicMatchesFilter("$SYS/broker/load", "$SYS/+/load"));
  EXPECT_TRUE(TopicMatchesFilter("$SYS", "$SYS/#"));
  // Only the first level: a '$' deeper down is an ordinary character.
  EXPECT_TRUE(TopicMatchesFilter("a/$b", "a/+"));
  EXPECT_TRUE(TopicMatchesFilter("a/$b/c", "a/#"));
}

TEST(TopicMatchesFilter, InvalidInputNeverMatches) {
  EXPECT_FALSE(TopicMatchesFilter("", "#"));
  EXPECT_FALSE(TopicMatchesFilter("a/+", "#"));  // a topic name holds no wildcard
  EXPECT_FALSE(TopicMatchesFilter("a/#", "a/#"));
  EXPECT_FALSE(TopicMatchesFilter("a", ""));
  EXPECT_FALSE(TopicMatchesFilter("a/b", "a/#/b"));
  EXPECT_FALSE(TopicMatchesFilter("ab", "a+"));
  EXPECT_FALSE(TopicMatchesFilter(std::string("a\0b", 3), "#"));
}

TEST(FilterProblem, NamesEachSyntaxError) {
  EXPECT_EQ(FilterProblem("a/+/b/#"), "");
  EXPECT_EQ(FilterProblem(""), "a topic filter must not be empty");
  EXPECT_EQ(FilterProblem("a+/b"), "'+' must fill a whole level");
  EXPECT_EQ(FilterProblem("a/b#"), "'#' must fill a whole level");
  EXPECT_EQ(FilterProblem("a/#/b"), "'#' must be the last level");
  EXPECT_EQ(FilterProblem(std::string("a\0", 2)), "a topic filter must not hold a NUL");
  EXPECT_EQ(FilterProblem(std::string(65536, 'a')), "a topic filter is at most 65535 bytes");
}

TEST(RuleFilterProblem, AllowsAtMostTwoHundredSlashes) {
  std::string filter = "a";
  for (int i = 0; i < 200; ++i) filter += "/a";
  EXPECT_EQ(RuleFilterProblem(filter), "");
  filter += "/a";
  EXPECT_EQ(RuleFilterProblem(filter),
            "a rule's topic filter has at most 200 '/' (mosquitto's limit)");
}

TEST(FilterCovers, PlusRequestIsCoveredOnlyByPlusOrHash) {
  EXPECT_TRUE(FilterCovers("a/+", "a/+"));
  EXPECT_TRUE(FilterCovers("a/#", "a/+"));
  EXPECT_FALSE(FilterCovers("a/b", "a/+"));
  EXPECT_TRUE(FilterCovers("a/+", "a/b"));
}

TEST(FilterCovers, HashRequestIsCoveredOnlyByHash) {
  EXPECT_TRUE(FilterCovers("a/#", "a/#"));
  EXPECT_TRUE(FilterCovers("#", "a/#"));
  EXPECT_FALSE(FilterCovers("a/+", "a/#"));
  EXPECT_FALSE(FilterCovers("a/+/#", "a/#"));  // "a/#" also matches "a"
  EXPECT_FALSE(FilterCovers("a/b", "a/#"));
  EXPECT_TRUE(FilterCovers("a/+/#", "a/b/#"));
}

TEST(FilterCovers, HashGrantCoversItsParent) {
  EXPECT_TRUE(FilterCovers("a/#", "a"));
  EXPECT_TRUE(FilterCovers("a/#", "a/b/c"));
  EXPECT_FALSE(FilterCovers("a/b/#", "a"));
}

TEST(FilterCovers, LengthsMustAgree) {
  EXPECT_FALSE(FilterCovers("a/+", "a/b/c"));
  EXPECT_FALSE(FilterCovers("a/+/c", "a/b"));
  EXPECT_TRUE(FilterCovers("+/+", "a/b"));
  EXPECT_TRUE(FilterCovers("a//b", "a//b"));
  EXPECT_FALSE(FilterCovers("a/b", "a//b"));
}

TEST(FilterCovers, DollarTopicsNeedADollarGrant) {
  EXPECT_FALSE(FilterCovers("#", "$SYS/#"));
  EXPECT_FALSE(FilterCovers("+/#", "$SYS/broker"));
  EXPECT_TRUE(FilterCovers("$SYS/#", "$SYS/broker/+"));
  // A request starting with a wildcard matches no '$' topic, so '#' covers it in full.
  EXPECT_TRUE(FilterCovers("#", "#"));
  EXPECT_TRUE(FilterCovers("#", "+/x"));
  EXPECT_FALSE(FilterCovers("$SYS/#", "#"));
}

TEST(FilterCovers, InvalidInputCoversNothing) {
  EXPECT_FALSE(FilterCovers("#", ""));
  EXPECT_FALSE(FilterCovers("#/a", "a"));
  EXPECT_FALSE(FilterCovers("#", "a/#/b"));
}

TEST(FiltersIntersect, FindsACommonTopic) {
  EXPECT_TRUE(FiltersIntersect("a/+", "+/b"));
  EXPECT_TRUE(FiltersIntersect("a/#", "a"));
  EXPECT_TRUE(FiltersIntersect("a/#", "+/b/c"));
  EXPECT_TRUE(FiltersIntersect("#", "x/y"));
  EXPECT_FALSE(FiltersIntersect("a/+", "a"));
  EXPECT_FALSE(FiltersIntersect("a/b", "a/c"));
  EXPECT_FALSE(FiltersIntersect("a/+/c", "a/b/d"));
  EXPECT_FALSE(FiltersIntersect("a/+", "a/b/c"));
}

TEST(FiltersIntersect, RespectsTheDollarRule) {
  EXPECT_FALSE(FiltersIntersect("#", "$SYS/x"));
  EXPECT_FALSE(FiltersIntersect("+/x", "$SYS/x"));
  EXPECT_TRUE(FiltersIntersect("$SYS/#", "$SYS/x"));
  EXPECT_TRUE(FiltersIntersect("#", "+/x"));
}

TEST(InnerFilter, StripsSharedSubscriptionPrefixes) {
  EXPECT_EQ(InnerFilter("$share/group/a/b"), "a/b");
  EXPECT_EQ(InnerFilter("$share/group/#"), "#");
  EXPECT_EQ(InnerFilter("$queue/a/+"), "a/+");
  EXPECT_EQ(InnerFilter("a/b"), "a/b");
  EXPECT_EQ(InnerFilter("$SYS/#"), "$SYS/#");
  EXPECT_EQ(InnerFilter("$share"), "$share");  // no slash: a plain topic filter
}

TEST(InnerFilter, MalformedShareGivesNothing) {
  EXPECT_EQ(InnerFilter("$share/group"), "");
  EXPECT_EQ(InnerFilter("$share//a"), "");
  EXPECT_EQ(InnerFilter("$share/g+/a"), "");
  EXPECT_EQ(InnerFilter("$share/#/a"), "");
  EXPECT_EQ(InnerFilter("$share/group/"), "");
}

}  // namespace
}  // namespace moat::policy
