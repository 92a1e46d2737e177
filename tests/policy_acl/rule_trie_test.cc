// The trie-indexed AclPolicy against ReferencePolicy, a naive evaluator that tries every
// line every time: on random acl files and random questions, both must give the same
// verdict and name the same line.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "tests/policy_acl/reference_policy.h"

namespace moat::policy {
namespace {

using test::ReferencePolicy;

class Random {
 public:
  explicit Random(uint32_t seed) : engine_(seed) {}
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(engine_); }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  std::mt19937 engine_;
};

const std::vector<std::string> kLevels = {"a", "b", "", "$SYS", "x%uy", "%u", "%c", "+"};
const std::vector<std::string> kTopicLevels = {"a",  "b",       "",   "$SYS", "alice",
                                               "c1", "xalicey", "$x", "a/b",  "x+y"};
const std::vector<std::string> kUsers = {"alice", "bob", "", "+", "a/b", "$x", "#"};
const std::vector<std::string> kClientIds = {"c1", "", "+", "a/b", "alice", "$x"};

std::string RandomFilter(Random& r, const std::vector<std::string>& levels, bool wildcards) {
  const size_t count = 1 + r.Below(4);
  std::string filter;
  for (size_t i = 0; i < count; ++i) {
    if (i != 0) filter += "/";
    if (wildcards && i + 1 == count && r.Below(4) == 0) {
      filter += "#";
      break;
    }
    std::string level = r.Pick(levels);
    if (!wildcards && level == "+") level = "a";
    if (wildcards && r.Below(6) == 0) level = "+";
    filter += level;
  }
  return filter.empty() ? "/" : filter;  // an acl line cannot end in an empty filter
}

std::string RandomAcl(Random& r) {
  const std::vector<std::string> access = {"read ", "write ", "readwrite ", "deny ", ""};
  std::string text;
  const size_t lines = 1 + r.Below(12);
  for (size_t i = 0; i < lines; ++i) {
    switch (r.Below(4)) {
      case 0: {
        const std::string& user = r.Pick(kUsers);
        absl::StrAppend(&text, "user ", user.empty() ? "alice" : user, "\n");
        break;
      }
      case 1:
        absl::StrAppend(&text, "pattern ", r.Pick(access), RandomFilter(r, kLevels, true), "\n");
        break;
      default:
        absl::StrAppend(&text, "topic ", r.Pick(access), RandomFilter(r, kLevels, true), "\n");
        break;
    }
  }
  return text;
}

std::shared_ptr<const AclPolicy> PolicyOf(const AclFile& file, SubscriptionGrant grant) {
  AclPolicy::Builder builder;
  builder.SetSubscriptionGrant(grant);
  AddAclFile(file, builder);
  return std::move(builder).Build(1);
}

ClientIdentity RandomClient(Random& r) {
  ClientIdentity client;
  client.username = r.Pick(kUsers);
  client.client_id = r.Pick(kClientIds);
  return client;
}

// Under SubscriptionGrant::kAllReadable, which ReferencePolicy::Decide() spells out.
TEST(RuleTrie, AgreesWithTheNaiveEvaluator) {
  Random r(20240611);
  int outcomes[9] = {};
  for (int round = 0; round < 3000; ++round) {
    const std::string text = RandomAcl(r);
    absl::StatusOr<AclFile> file = ParseAclFile(text, "acl");
    ASSERT_TRUE(file.ok()) << file.status() << "\n" << text;
    const std::shared_ptr<const AclPolicy> policy =
        PolicyOf(*file, SubscriptionGrant::kAllReadable);
    const ReferencePolicy reference(*file);
    for (int q = 0; q < 30; ++q) {
      const ClientIdentity client = RandomClient(r);
      const auto action = static_cast<ReferencePolicy::Action>(r.Below(3));
      std::string topic;
      Decision got;
      if (action == ReferencePolicy::Action::kSubscribe) {
        topic = RandomFilter(r, kTopicLevels, true);
        if (r.Below(8) == 0) topic = "$share/g/" + topic;
        got = policy->MaySubscribe(client, topic, 0);
      } else {
        topic = RandomFilter(r, kTopicLevels, false);
        got = action == ReferencePolicy::Action::kPublish
                  ? policy->MayPublish(client, topic, 0, false)
                  : policy->MayReceive(client, topic);
      }
      const auto [allowed, rule] = reference.Decide(client, action, topic);
      ASSERT_EQ(got.allowed(), allowed)
          << "action " << static_cast<int>(action) << " user '" << client.username << "' client '"
          << client.client_id << "' topic '" << topic << "'\n"
          << text;
      ASSERT_EQ(std::string(got.rule), rule)
          << "action " << static_cast<int>(action) << " user '" << client.username << "' client '"
          << client.client_id << "' topic '" << topic << "'\n"
          << text;
      const size_t kind = static_cast<size_t>(action) * 3 + (got.allowed()      ? 0
                                                             : got.rule.empty() ? 1
                                                                                : 2);
      ++outcomes[kind];
    }
  }
  // Every action saw grants, default denials and deny rules, so the comparison means
  // something. (Each question is compared under ASSERT, so reaching here means all agreed.)
  for (size_t kind = 0; kind < 9; ++kind) EXPECT_GT(outcomes[kind], 500) << kind;
}

// Every topic of up to `depth` levels a filter matches, over the levels rules and
// identities name and one nobody names.
void TopicsMatching(const Levels& filter, size_t i, std::string topic, size_t depth,
                    const std::vector<std::string>& vocabulary, std::vector<std::string>& out) {
  auto extended = [&](std::string_view level) {
    return i == 0 ? std::string(level) : absl::StrCat(topic, "/", std::string(level));
  };
  if (i == filter.size()) {
    out.push_back(topic);
    return;
  }
  if (filter[i] == "#") {
    if (i > 0) out.push_back(topic);  // "a/#" matches "a"
    if (depth == 0) return;
    for (const std::string& level : vocabulary) {
      if (i == 0 && level.starts_with('$')) continue;
      TopicsMatching(filter, i, extended(level), depth - 1, vocabulary, out);
    }
    return;
  }
  if (depth == 0) return;
  if (filter[i] != "+")
    return TopicsMatching(filter, i + 1, extended(filter[i]), depth - 1, vocabulary, out);
  for (const std::string& level : vocabulary) {
    if (i == 0 && level.starts_with('$')) continue;
    TopicsMatching(filter, i + 1, extended(level), depth - 1, vocabulary, out);
  }
}

// The default grant against the naive one, and against its promise: a filter under which
// the client may read some topic is never refused.
TEST(RuleTrie, AgreesWithTheNaiveEvaluatorOnSubscriptionsThatCanDeliver) {
  Random r(20261206);
  int granted = 0, refused_by_rule = 0, refused_by_default = 0;
  const std::vector<std::string> vocabulary = {"a",  "b",       "",   "$SYS", "alice",
                                               "c1", "xalicey", "$x", "zz"};
  for (int round = 0; round < 2000; ++round) {
    const std::string text = RandomAcl(r);
    absl::StatusOr<AclFile> file = ParseAclFile(text, "acl");
    ASSERT_TRUE(file.ok()) << file.status() << "\n" << text;
    const std::shared_ptr<const AclPolicy> policy =
        PolicyOf(*file, SubscriptionGrant::kAnyReadable);
    const ReferencePolicy reference(*file);
    for (int q = 0; q < 30; ++q) {
      const ClientIdentity client = RandomClient(r);
      std::string filter = RandomFilter(r, kTopicLevels, true);
      if (r.Below(8) == 0) filter = "$share/g/" + filter;
      const Decision got = policy->MaySubscribe(client, filter, 0);
      const auto [allowed, rule] = reference.DecideAnyReadable(client, filter);
      const std::string context = absl::StrCat("user '", client.username, "' client '",
                                               client.client_id, "' filter '", filter, "'\n", text);
      ASSERT_EQ(got.allowed(), allowed) << context;
      if (!allowed) {
        ASSERT_EQ(std::string(got.rule), rule) << context;
      }
      ++(allowed ? granted : rule.empty() ? refused_by_default : refused_by_rule);
      if (allowed || !IsValidFilter(InnerFilter(filter))) continue;
      std::vector<std::string> topics;
      TopicsMatching(SplitLevels(InnerFilter(filter)), 0, "", 4, vocabulary, topics);
      for (const std::string& topic : topics) {
        ASSERT_FALSE(reference.Decide(client, ReferencePolicy::Action::kReceive, topic).first)
            << "refused although '" << topic << "' may be read; " << context;
      }
    }
  }
  EXPECT_GT(granted, 2000);
  EXPECT_GT(refused_by_rule, 500);
  EXPECT_GT(refused_by_default, 2000);
}

}  // namespace
}  // namespace moat::policy
