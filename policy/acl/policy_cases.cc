#include "policy/acl/policy_cases.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "policy/acl/topic_match.h"
#include "policy/file_reading/file_text.h"
#include "policy/file_reading/yaml_map.h"
#include "policy/network.h"

namespace moat::policy {
namespace {

using file_reading::Field;
using file_reading::MapReader;
using file_reading::Problems;

constexpr std::string_view kCaseKeys[] = {"user",    "groups",   "client_id", "cert_identity",
                                          "address", "listener", "action",    "topic",
                                          "expect",  "rule",     "qos",       "retain"};

class CaseParser {
 public:
  CaseParser(std::string_view filename, std::string_view text)
      : text_(text), problems_(filename, text) {}

  void Parse() {
    const std::optional<YAML::Node> root = file_reading::ParseDocument(text_, problems_);
    if (!root) return;
    if (!root->IsSequence() || root->size() == 0) {
      return problems_.Add(file_reading::LineOf(*root), "the cases must be a non-empty list, got " +
                                                            file_reading::Describe(*root));
    }
    const Field list{"", "cases", file_reading::LineOf(*root), *root};
    for (const Field& item : file_reading::Elements(list)) Case(item);
  }

  absl::StatusOr<std::vector<PolicyCase>> Finish() && {
    if (problems_.empty()) return std::move(cases_);
    return problems_.ToStatus();
  }

 private:
  void Expected(const Field& field, std::string_view what) {
    file_reading::ReportExpected(field, what, problems_);
  }

  std::optional<std::string> String(const Field& field) {
    return file_reading::ReadNonEmptyString(field, problems_);
  }

  void Case(const Field& item) {
    if (!file_reading::ExpectMap(item, problems_)) return;
    MapReader map(item.value, item.path, item.line, kCaseKeys, problems_);
    PolicyCase out;
    out.line = item.line;
    const auto text = [&](std::string_view key, std::string& into) {
      if (const Field* field = map.Find(key)) into = String(*field).value_or("");
    };
    text("user", out.client.username);
    text("client_id", out.client.client_id);
    text("cert_identity", out.client.cert_identity);
    text("listener", out.client.listener);
    if (const Field* field = map.Find("address")) {
      out.client.address = String(*field).value_or("");
      if (!out.client.address.empty() && !ParseAddress(out.client.address)) {
        Expected(*field, "an IPv4 or IPv6 address");
      }
    }
    if (const Field* field = map.Find("groups")) Groups(*field, out);
    if (const Field* field = map.Require("action")) {
      const std::optional<std::string> action = String(*field);
      if (action == "publish") {
        out.action = Action::kPublish;
      } else if (action == "subscribe") {
        out.action = Action::kSubscribe;
      } else if (action) {
        Expected(*field, "publish or subscribe");
      }
    }
    if (const Field* field = map.Require("topic")) Topic(*field, out);
    if (const Field* field = map.Require("expect")) {
      const std::optional<std::string> expect = String(*field);
      out.expect_allow = expect == "allow";
      if (expect && !out.expect_allow && expect != "deny") Expected(*field, "allow or deny");
    }
    if (const Field* field = map.Find("rule")) out.rule = String(*field);
    if (const Field* field = map.Find("qos")) {
      const std::string qos = field->value.IsScalar() ? field->value.Scalar() : "";
      if (qos == "0" || qos == "1" || qos == "2") {
        out.qos = static_cast<uint8_t>(qos[0] - '0');
      } else {
        Expected(*field, "0, 1 or 2");
      }
    }
    if (const Field* field = map.Find("retain")) {
      out.retain = file_reading::ReadBool(*field, problems_).value_or(false);
      if (out.action != Action::kPublish) {
        problems_.Add(field->line, absl::StrCat("'", field->path, "' applies to publish only"));
      }
    }
    cases_.push_back(std::move(out));
  }

  void Groups(const Field& field, PolicyCase& out) {
    if (!field.value.IsSequence() || field.value.size() == 0) {
      return Expected(field, "a non-empty list of group names");
    }
    for (const Field& name : file_reading::Elements(field)) {
      if (std::optional<std::string> group = String(name)) out.groups.push_back(*group);
    }
  }

  void Topic(const Field& field, PolicyCase& out) {
    const std::optional<std::string> topic = String(field);
    if (!topic) return;
    out.topic = *topic;
    // Case() reads `action` first, whatever the order of the keys.
    if (out.action == Action::kPublish && !IsValidTopicName(out.topic)) {
      Expected(field, "a topic name (no '+', '#' or NUL) for publish");
    } else if (out.action == Action::kSubscribe && !IsValidFilter(InnerFilter(out.topic))) {
      Expected(field, "a valid topic filter for subscribe");
    }
  }

  std::string_view text_;
  Problems problems_;
  std::vector<PolicyCase> cases_;
};

// The user standing in for a case that names groups: the case's own (if in all of them),
// or the first member of the first group who is in all of them. Empty with `why` set
// when there is none.
std::string MemberOfAll(const PolicyCase& c, const GroupMembers& groups, std::string& why) {
  const auto in_all = [&](std::string_view user) {
    return std::all_of(c.groups.begin(), c.groups.end(), [&](const std::string& name) {
      const auto group = groups.find(name);
      return group != groups.end() &&
             std::find(group->second.begin(), group->second.end(), user) != group->second.end();
    });
  };
  for (const std::string& name : c.groups) {
    if (!groups.contains(name)) {
      why = "the policy has no group " + file_reading::Quote(name);
      return {};
    }
  }
  if (!c.client.username.empty()) {
    if (in_all(c.client.username)) return c.client.username;
    why = "user " + file_reading::Quote(c.client.username) + " is not in every group it names";
    return {};
  }
  for (const std::string& user : groups.find(c.groups.front())->second) {
    if (in_all(user)) return user;
  }
  why = "no user is in every group it names";
  return {};
}

// "FILE:LINE" for an acl_file line, "rule ID at FILE:LINE" for a native rule, "no rule".
std::string Named(const Authorizer& authorizer, std::string_view rule) {
  if (rule.empty()) return "no rule (nothing grants it)";
  const std::string_view location = authorizer.RuleLocation(rule);
  if (location.empty()) return std::string(rule);
  return "rule " + std::string(rule) + " at " + std::string(location);
}

std::string Question(const PolicyCase& c) {
  std::string who = c.client.username.empty() ? "anonymous" : "user " + c.client.username;
  if (!c.client.client_id.empty()) absl::StrAppend(&who, " client ", c.client.client_id);
  return absl::StrCat(c.action == Action::kPublish ? "publish " : "subscribe ",
                      file_reading::Quote(c.topic), " as ", who);
}

}  // namespace

absl::StatusOr<std::vector<PolicyCase>> ParsePolicyCases(std::string_view text,
                                                         std::string_view filename) {
  CaseParser parser(filename, text);
  parser.Parse();
  return std::move(parser).Finish();
}

absl::StatusOr<std::vector<PolicyCase>> LoadPolicyCases(const std::string& path) {
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "policy test cases");
  if (!text.ok()) return text.status();
  return ParsePolicyCases(*text, path);
}

int RunPolicyCases(const Authorizer& authorizer, const std::vector<PolicyCase>& cases,
                   const GroupMembers& groups, std::string_view cases_file, std::ostream& out) {
  size_t failed = 0;
  for (const PolicyCase& c : cases) {
    const std::string where = std::string(cases_file) + ":" + std::to_string(c.line) + ": ";
    ClientIdentity client = c.client;
    if (!c.groups.empty()) {
      std::string why;
      client.username = MemberOfAll(c, groups, why);
      if (client.username.empty()) {
        out << where << why << "\n";
        ++failed;
        continue;
      }
    }
    const Decision decision = c.action == Action::kPublish
                                  ? authorizer.MayPublish(client, c.topic, c.qos, c.retain)
                                  : authorizer.MaySubscribe(client, c.topic, c.qos);
    const bool allowed = decision.allowed() && !decision.audit;
    PolicyCase asked = c;
    asked.client.username = client.username;
    if (allowed != c.expect_allow) {
      out << where << Question(asked) << ": expected " << (c.expect_allow ? "allow" : "deny")
          << ", got " << (allowed ? "allow by " : "deny by ") << Named(authorizer, decision.rule);
      // Which limit refused it, when a rule that grants the topic did.
      if (!allowed && !decision.rule.empty()) out << " (" << DenyReasonName(decision.reason) << ")";
      out << "\n";
      ++failed;
    } else if (c.rule && *c.rule != decision.rule) {
      out << where << Question(asked) << ": " << (allowed ? "allowed" : "denied")
          << " as expected, but by " << Named(authorizer, decision.rule) << ", not "
          << file_reading::Quote(*c.rule) << "\n";
      ++failed;
    }
  }
  out << cases.size() << (cases.size() == 1 ? " case, " : " cases, ") << failed << " failed\n";
  return failed == 0 ? kCasesHold : kCasesFail;
}

}  // namespace moat::policy
