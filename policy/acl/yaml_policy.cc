#include "policy/acl/yaml_policy.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "policy/acl/topic_match.h"
#include "yaml-cpp/yaml.h"

namespace moat::policy {
namespace {

// Debian's Abseil has its own string_view type, not an alias of std::string_view.
absl::string_view Av(std::string_view text) { return {text.data(), text.size()}; }

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 1 : mark.line + 1;
}

// Text from the file, safe in a one-line message.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02X", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

struct Entry {
  std::string key;
  std::string path;  // "rules[2].topics"
  int line = 1;
  YAML::Node value;
};

constexpr std::string_view kTopKeys[] = {"groups", "rules"};
constexpr std::string_view kRuleKeys[] = {
    "id",        "description", "effect",   "actions",    "topics",          "users",
    "groups",    "anonymous",   "everyone", "client_ids", "cert_identities", "addresses",
    "listeners", "max_qos",     "retain",   "mode"};
constexpr std::string_view kModes[] = {"enforce", "audit"};

class Parser {
 public:
  explicit Parser(std::string_view filename) { policy_.filename = std::string(filename); }

  void Parse(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      return Problem(e.mark.is_null() ? 1 : e.mark.line + 1,
                     absl::StrCat("YAML syntax error: ", e.msg));
    }
    if (!root.IsMap()) {
      return Problem(LineOf(root),
                     absl::StrCat("the policy must be a map with 'rules', got ", Describe(root)));
    }
    const std::vector<Entry> top = Entries(root, "", kTopKeys);
    const Entry* rules = nullptr;
    for (const Entry& entry : top) {
      if (entry.key == "groups") Groups(entry);
      if (entry.key == "rules") rules = &entry;
    }
    if (rules == nullptr) return Problem(1, "missing required key 'rules'");
    if (!rules->value.IsSequence()) return Expected(*rules, "a list of rules");
    for (size_t i = 0; i < rules->value.size(); ++i) {
      Rule(rules->value[i], absl::StrCat("rules[", i, "]"));
    }
  }

  absl::StatusOr<YamlPolicy> Finish() && {
    if (problems_.empty()) return std::move(policy_);
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> lines;
    for (const auto& [line, message] : problems_) {
      lines.push_back(absl::StrCat(policy_.filename, ":", line, ": ", message));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

 private:
  void Problem(int line, std::string message) { problems_.emplace_back(line, std::move(message)); }

  void Expected(const Entry& entry, std::string_view what) {
    Problem(entry.line,
            absl::StrCat("'", entry.path, "' must be ", Av(what), ", got ", Describe(entry.value)));
  }

  // The entries of `map`, with unknown, duplicate and non-scalar keys reported and left
  // out. An empty `known` accepts any key (group names).
  std::vector<Entry> Entries(const YAML::Node& map, const std::string& path,
                             std::span<const std::string_view> known) {
    std::vector<Entry> entries;
    const std::string where = path.empty() ? "at the top level" : absl::StrCat("in '", path, "'");
    for (const auto& item : map) {
      const int line = LineOf(item.first);
      if (!item.first.IsScalar()) {
        Problem(line,
                absl::StrCat("keys must be plain names, not ", Describe(item.first), " ", where));
        continue;
      }
      const std::string& key = item.first.Scalar();
      if (known.size() != 0 && std::find(known.begin(), known.end(), key) == known.end()) {
        Problem(line, absl::StrCat("unknown key ", Quote(key), " ", where, Suggest(key, known)));
        continue;
      }
      const auto first = std::find_if(entries.begin(), entries.end(),
                                      [&](const Entry& e) { return e.key == key; });
      if (first != entries.end()) {
        Problem(line, absl::StrCat("duplicate key ", Quote(key), " ", where, " (first at line ",
                                   first->line, ")"));
        continue;
      }
      entries.push_back(
          {key, path.empty() ? key : absl::StrCat(path, ".", key), line, item.second});
    }
    return entries;
  }

  static std::string Suggest(std::string_view key, std::span<const std::string_view> known) {
    for (std::string_view candidate : known) {
      if (EditDistance(key, candidate) <= 2) {
        return absl::StrCat(" (did you mean '", Av(candidate), "'?)");
      }
    }
    return "";
  }

  std::optional<std::string> String(const Entry& entry) {
    if (!entry.value.IsScalar() || entry.value.Scalar().empty()) {
      Expected(entry, "a non-empty string");
      return std::nullopt;
    }
    return entry.value.Scalar();
  }

  // A non-empty list of non-empty strings, each with its line.
  std::vector<std::pair<std::string, int>> Strings(const Entry& entry) {
    std::vector<std::pair<std::string, int>> out;
    if (!entry.value.IsSequence() || entry.value.size() == 0) {
      Expected(entry, "a non-empty list");
      return out;
    }
    for (size_t i = 0; i < entry.value.size(); ++i) {
      const YAML::Node item = entry.value[i];
      if (!item.IsScalar() || item.Scalar().empty()) {
        Problem(LineOf(item), absl::StrCat("'", entry.path, "[", i,
                                           "]' must be a non-empty string, got ", Describe(item)));
        continue;
      }
      out.emplace_back(item.Scalar(), LineOf(item));
    }
    return out;
  }

  std::optional<bool> Bool(const Entry& entry) {
    bool value = false;
    if (entry.value.IsScalar() && YAML::convert<bool>::decode(entry.value, value)) return value;
    Expected(entry, "true or false");
    return std::nullopt;
  }

  // `anonymous` and `everyone` only say something when true; false would read as a
  // condition ("only authenticated clients") that moat does not have.
  bool OnlyTrue(const Entry& entry) {
    const std::optional<bool> value = Bool(entry);
    if (value && !*value) {
      Problem(entry.line, absl::StrCat("'", entry.path, "' can only be true (leave it out)"));
    }
    return value.value_or(false);
  }

  void Groups(const Entry& entry) {
    if (!entry.value.IsMap()) return Expected(entry, "a map of group name to user names");
    for (const Entry& group : Entries(entry.value, "groups", {})) {  // any name
      std::vector<std::string>& members = policy_.groups[group.key];
      if (group.value.IsSequence() && group.value.size() == 0) continue;  // no members yet
      for (auto& [user, line] : Strings(group)) members.push_back(std::move(user));
    }
  }

  void Rule(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) {
      return Problem(LineOf(node),
                     absl::StrCat("'", path, "' must be a map, got ", Describe(node)));
    }
    YamlRule rule;
    rule.line = LineOf(node);
    bool have_effect = false;
    bool have_actions = false;
    bool have_topics = false;
    bool have_principal = false;  // a key saying who, even if its value was refused
    const Entry* limit = nullptr;
    const std::vector<Entry> entries = Entries(node, path, kRuleKeys);
    for (const Entry& entry : entries) {
      const std::string& key = entry.key;
      have_principal |= key == "users" || key == "groups" || key == "anonymous" ||
                        key == "everyone" || key == "client_ids" || key == "cert_identities";
      if (key == "id") {
        rule.id = String(entry).value_or("");
        if (RuleLabels::IsReservedId(rule.id)) {
          Problem(entry.line, absl::StrCat("rule id ", Quote(rule.id),
                                           " is reserved: moat_denials_total{rule} uses it for "
                                           "denials no rule id names"));
        }
      } else if (key == "mode") {
        Mode(entry, rule);
      } else if (key == "description") {
        String(entry);
      } else if (key == "effect") {
        have_effect = true;
        const std::optional<std::string> effect = String(entry);
        if (effect && *effect != "allow" && *effect != "deny") {
          Problem(entry.line,
                  absl::StrCat("'", entry.path, "' must be allow or deny, got ", Quote(*effect)));
        }
        rule.deny = effect == "deny";
      } else if (key == "actions") {
        have_actions = true;
        Actions(entry, rule);
      } else if (key == "topics") {
        have_topics = true;
        Topics(entry, rule);
      } else if (key == "users") {
        for (auto& [user, line] : Strings(entry)) rule.users.push_back(std::move(user));
      } else if (key == "groups") {
        for (auto& [group, line] : Strings(entry)) {
          if (!policy_.groups.contains(group)) {
            Problem(line, absl::StrCat("unknown group ", Quote(group), " in '", entry.path,
                                       "' (not under the top-level 'groups')"));
          }
          rule.groups.push_back(std::move(group));
        }
      } else if (key == "anonymous") {
        rule.anonymous = OnlyTrue(entry);
      } else if (key == "everyone") {
        rule.everyone = OnlyTrue(entry);
      } else if (key == "client_ids") {
        for (auto& [glob, line] : Strings(entry)) {
          rule.conditions.client_id_globs.push_back(std::move(glob));
        }
      } else if (key == "cert_identities") {
        for (auto& [name, line] : Strings(entry)) {
          rule.conditions.cert_identities.push_back(std::move(name));
        }
      } else if (key == "addresses") {
        Addresses(entry, rule);
      } else if (key == "listeners") {
        for (auto& [name, line] : Strings(entry)) rule.conditions.listeners.push_back(name);
      } else if (key == "max_qos") {
        limit = &entry;
        const bool ok = entry.value.IsScalar() && entry.value.Scalar().size() == 1 &&
                        entry.value.Scalar()[0] >= '0' && entry.value.Scalar()[0] <= '2';
        if (!ok) Expected(entry, "0, 1 or 2");
        if (ok) rule.max_qos = static_cast<uint8_t>(entry.value.Scalar()[0] - '0');
      } else if (key == "retain") {
        limit = &entry;
        rule.allow_retain = Bool(entry).value_or(true);
      }
    }
    const int line = rule.line;
    const std::string name = rule.id.empty() ? path : absl::StrCat("rule '", rule.id, "'");
    auto missing = [&](bool have, std::string_view key) {
      if (!have)
        Problem(line, absl::StrCat("missing required key '", Av(key), "' in '", path, "'"));
    };
    missing(
        std::any_of(entries.begin(), entries.end(), [](const Entry& e) { return e.key == "id"; }),
        "id");
    missing(have_effect, "effect");
    missing(have_actions, "actions");
    missing(have_topics, "topics");
    if (limit != nullptr && rule.deny) {
      Problem(limit->line, absl::StrCat("'", limit->path,
                                        "' is a limit on what an allow rule "
                                        "grants; ",
                                        name, " is a deny rule"));
    }
    const bool named = !rule.users.empty() || !rule.groups.empty() || rule.anonymous;
    if (rule.everyone && named) {
      Problem(line, absl::StrCat(name,
                                 ": 'everyone' cannot be combined with users, groups or "
                                 "anonymous"));
    }
    if (!have_principal) {
      Problem(line, absl::StrCat(name,
                                 " applies to nobody: give users, groups, client_ids, "
                                 "cert_identities, anonymous: true or everyone: true"));
    }
    if (!rule.id.empty()) {
      const auto [it, inserted] = ids_.try_emplace(rule.id, line);
      if (!inserted) {
        Problem(line, absl::StrCat("duplicate rule id ", Quote(rule.id), " (first at line ",
                                   it->second, ")"));
      }
    }
    policy_.rules.push_back(std::move(rule));
  }

  void Mode(const Entry& entry, YamlRule& rule) {
    const std::optional<std::string> mode = String(entry);
    if (mode && std::find(std::begin(kModes), std::end(kModes), *mode) == std::end(kModes)) {
      Problem(entry.line, absl::StrCat("'", entry.path, "' must be enforce or audit, got ",
                                       Quote(*mode), Suggest(*mode, kModes)));
    }
    rule.audit = mode == "audit";
  }

  void Actions(const Entry& entry, YamlRule& rule) {
    for (const auto& [action, line] : Strings(entry)) {
      if (action == "publish") {
        rule.actions |= kActionPublish;
      } else if (action == "subscribe") {
        rule.actions |= kActionRead;
      } else {
        Problem(line, absl::StrCat("unknown action ", Quote(action), " in '", entry.path,
                                   "' (expected publish or subscribe)"));
      }
    }
  }

  void Topics(const Entry& entry, YamlRule& rule) {
    for (auto& [topic, line] : Strings(entry)) {
      if (const std::string_view problem = RuleFilterProblem(topic); !problem.empty()) {
        Problem(line, absl::StrCat("invalid topic filter ", Quote(topic), " in '", entry.path,
                                   "': ", Av(problem)));
        continue;
      }
      rule.topics.push_back(std::move(topic));
    }
  }

  void Addresses(const Entry& entry, YamlRule& rule) {
    for (const auto& [text, line] : Strings(entry)) {
      std::string error;
      if (const std::optional<Cidr> cidr = ParseCidr(text, &error)) {
        rule.conditions.addresses.push_back(*cidr);
      } else {
        Problem(line, absl::StrCat("address ", Quote(text), " in '", entry.path, "' ", error));
      }
    }
  }

  YamlPolicy policy_;
  std::map<std::string, int, std::less<>> ids_;
  std::vector<std::pair<int, std::string>> problems_;
};

}  // namespace

absl::StatusOr<YamlPolicy> ParseYamlPolicy(std::string_view text, std::string_view filename) {
  Parser parser(filename);
  try {
    parser.Parse(text);
  } catch (const YAML::Exception& e) {  // a conversion yaml-cpp refused mid-way
    return absl::InvalidArgumentError(absl::StrCat(
        Av(filename), ":", e.mark.is_null() ? 1 : e.mark.line + 1, ": YAML error: ", e.msg));
  }
  return std::move(parser).Finish();
}

absl::StatusOr<YamlPolicy> LoadYamlPolicy(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno ? errno : EACCES;
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":1: cannot read policy file: ", std::strerror(error)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":1: cannot read policy file"));
  }
  return ParseYamlPolicy(text.str(), path);
}

void AddYamlPolicy(const YamlPolicy& policy, AclPolicy::Builder& builder, RuleLabels& labels) {
  RuleSpec spec;
  for (const YamlRule& rule : policy.rules) {
    spec.source = rule.id;
    spec.location = absl::StrCat(policy.filename, ":", rule.line);
    // Only a rule that can refuse something ever names a denial: plain allow rules take
    // no label, so they cannot use up the bounded set.
    const bool can_refuse = rule.deny || rule.max_qos < 2 || !rule.allow_retain;
    spec.label = can_refuse ? labels.Assign(rule.id) : RuleLabels::kDefault;
    spec.deny = rule.deny;
    spec.audit = rule.audit;
    spec.actions = rule.actions;
    spec.max_qos = rule.max_qos;
    spec.allow_retain = rule.allow_retain;
    spec.filters = rule.topics;
    spec.placeholders = true;
    spec.anonymous = rule.anonymous;
    spec.users = rule.users;
    for (const std::string& group : rule.groups) {
      if (const auto it = policy.groups.find(group); it != policy.groups.end()) {
        spec.users.insert(spec.users.end(), it->second.begin(), it->second.end());
      }
    }
    // Without a named principal the rule is for everyone its conditions select.
    spec.everyone = rule.everyone || (spec.users.empty() && !rule.anonymous && rule.groups.empty());
    spec.conditions = rule.conditions;
    builder.Add(spec);
  }
}

}  // namespace moat::policy
