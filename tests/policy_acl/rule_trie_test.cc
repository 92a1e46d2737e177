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

TEST(RuleTrie, AgreesWithTheNaiveEvaluator) {
  Random r(20240611);
  int outcomes[9] = {};
  for (int round = 0; round < 3000; ++round) {
    const std::string text = RandomAcl(r);
    absl::StatusOr<AclFile> file = ParseAclFile(text, "acl");
    ASSERT_TRUE(file.ok()) << file.status() << "\n" << text;
    AclPolicy::Builder builder;
    AddAclFile(*file, builder);
    const std::shared_ptr<const AclPolicy> policy = std::move(builder).Build(1);
    const ReferencePolicy reference(*file);
    for (int q = 0; q < 30; ++q) {
      ClientIdentity client;
      client.username = r.Pick(kUsers);
      client.client_id = r.Pick(kClientIds);
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

}  // namespace
}  // namespace moat::policy
