// The decision cache's bound in bytes, against what its entries really take from the heap.
#include "proxy/decision_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/proxy/enforcer_fixture.h"
#include "tests/proxy/heap_count.h"

namespace moat::proxy {
namespace {

using Action = DecisionCache::Action;

// `count` distinct topics of `length` bytes (at least 5).
std::vector<std::string> Topics(size_t count, size_t length) {
  std::vector<std::string> topics;
  for (size_t i = 0; i < count; ++i) {
    std::string topic = std::to_string(i) + "/";
    topic.resize(length, 'x');
    topics.push_back(std::move(topic));
  }
  return topics;
}

class DecisionCacheTest : public ::testing::Test {
 protected:
  policy::Decision Publish(std::string_view topic) {
    return cache_.Decide(Action::kPublish, topic, 1, false, identity_, authorizer_);
  }

  ScriptedAuthorizer authorizer_;
  policy::ClientIdentity identity_ = test::MakeIdentity("alice", "c");
  DecisionCache cache_;
};

TEST_F(DecisionCacheTest, ShortTopicsAreAnsweredFromTheCache) {
  // A device's handful of topics, as the cache held them when it was 64 entries.
  const std::vector<std::string> topics = Topics(64, 60);
  for (int round = 0; round < 3; ++round) {
    for (const std::string& topic : topics) EXPECT_TRUE(Publish(topic).allowed());
  }
  EXPECT_EQ(authorizer_.calls, 64);
  EXPECT_EQ(cache_.size(), 64u);
}

TEST_F(DecisionCacheTest, LongTopicsCannotMakeItHoldMoreThanItsBound) {
  const std::vector<std::string> topics = Topics(1000, 1024);
  for (const std::string& topic : topics) {
    Publish(topic);
    ASSERT_LE(cache_.bytes(), DecisionCache::kMaxBytes);
  }
  EXPECT_LE(cache_.size(), DecisionCache::kMaxBytes / 1024);
  // Still a cache: the topic asked last is answered without the policy.
  const int calls = authorizer_.calls;
  Publish(topics.back());
  EXPECT_EQ(authorizer_.calls, calls);
}

TEST_F(DecisionCacheTest, ItsCountCoversWhatTheHeapReallyHolds) {
  // Both ends: short topics, where the per-entry overhead is nearly all, and the longest.
  for (const size_t length : {size_t{5}, size_t{16}, size_t{100}, size_t{1024}}) {
    SCOPED_TRACE(length);
    const std::vector<std::string> topics = Topics(2000, length);
    size_t most = 0;
    {
      moat::test::HeapCount heap;
      DecisionCache cache;
      for (const std::string& topic : topics) {
        cache.Decide(Action::kReceive, topic, 0, false, identity_, authorizer_);
        most = std::max(most, heap.Held());
      }
      // The count is an estimate that errs high, but not by more than half.
      EXPECT_GE(most * 2, cache.bytes());
    }
    EXPECT_LE(most, DecisionCache::kMaxBytes);
  }
}

TEST_F(DecisionCacheTest, ForgetsEverythingWhenThePolicyChanges) {
  Publish("a");
  ++authorizer_.policy_version;
  Publish("a");
  EXPECT_EQ(authorizer_.calls, 2);
  EXPECT_EQ(cache_.size(), 1u);
}

}  // namespace
}  // namespace moat::proxy
