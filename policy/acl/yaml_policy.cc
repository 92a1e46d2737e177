#include "policy/acl/yaml_policy.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "policy/acl/topic_match.h"
#include "policy/file_reading/file_text.h"
#include "policy/file_reading/yaml_map.h"

namespace moat::policy {
namespace {

using file_reading::Describe;
using file_reading::DidYouMean;
using file_reading::Elements;
using file_reading::Field;
using file_reading::LineOf;
using file_reading::MapReader;
using file_reading::Problems;
using file_reading::Quote;

// Debian's Abseil has its own string_view type, not an alias of std::string_view.
absl::string_view Av(std::string_view text) { return {text.data(), text.size()}; }

constexpr std::string_view kTopKeys[] = {"groups", "rules", "limits"};
constexpr std::string_view kRuleKeys[] = {
    "id",        "description", "effect",   "actions",    "topics",          "users",
    "groups",    "anonymous",   "everyone", "client_ids", "cert_identities", "addresses",
    "listeners", "max_qos",     "retain",   "mode",       "max_payload",     "payload"};
constexpr std::string_view kRequiredRuleKeys[] = {"id", "effect", "actions", "topics"};
constexpr std::string_view kLimitKeys[] = {"id",
                                           "description",
                                           "users",
                                           "groups",
                                           "anonymous",
                                           "everyone",
                                           "client_ids",
                                           "cert_identities",
                                           "addresses",
                                           "listeners",
                                           "messages_per_second",
                                           "message_burst",
                                           "bytes_per_second",
                                           "byte_burst"};
constexpr std::string_view kModes[] = {"enforce", "audit"};

class Parser {
 public:
  Parser(std::string_view filename, std::string_view text)
      : text_(text), problems_(filename, text) {
    policy_.filename = std::string(filename);
  }

  void Parse() {
    const std::optional<YAML::Node> root = file_reading::ParseDocument(text_, problems_);
    if (!root) return;
    if (!root->IsMap()) {
      return Problem(LineOf(*root),
                     absl::StrCat("the policy must be a map with 'rules', got ", Describe(*root)));
    }
    MapReader top(*root, "", 1, kTopKeys, problems_);
    if (const Field* groups = top.Find("groups")) Groups(*groups);
    const Field* rules = top.Require("rules");
    if (rules == nullptr) return;
    if (!rules->value.IsSequence()) return Expected(*rules, "a list of rules");
    for (const Field& rule : Elements(*rules)) Rule(rule);
    if (const Field* limits = top.Find("limits")) {
      if (!limits->value.IsSequence()) return Expected(*limits, "a list of limits entries");
      for (const Field& limit : Elements(*limits)) Limit(limit);
    }
  }

  absl::StatusOr<YamlPolicy> Finish() && {
    if (problems_.empty()) return std::move(policy_);
    return problems_.ToStatus();
  }

 private:
  void Problem(int line, std::string message) { problems_.Add(line, std::move(message)); }

  void Expected(const Field& field, std::string_view what) {
    file_reading::ReportExpected(field, what, problems_);
  }

  std::optional<std::string> String(const Field& field) {
    return file_reading::ReadNonEmptyString(field, problems_);
  }

  // A non-empty list of non-empty strings, each with its line.
  std::vector<std::pair<std::string, int>> Strings(const Field& field) {
    std::vector<std::pair<std::string, int>> out;
    if (!field.value.IsSequence() || field.value.size() == 0) {
      Expected(field, "a non-empty list");
      return out;
    }
    for (const Field& item : Elements(field)) {
      if (std::optional<std::string> text = String(item)) {
        out.emplace_back(*std::move(text), item.line);
      }
    }
    return out;
  }

  // `anonymous` and `everyone` only say something when true; false would read as a
  // condition ("only authenticated clients") that moat does not have.
  bool OnlyTrue(const Field& entry) {
    const std::optional<bool> value = file_reading::ReadBool(entry, problems_);
    if (value && !*value) {
      Problem(entry.line, absl::StrCat("'", entry.path, "' can only be true (leave it out)"));
    }
    return value.value_or(false);
  }

  void Groups(const Field& entry) {
    if (!entry.value.IsMap()) return Expected(entry, "a map of group name to user names");
    const MapReader groups(entry.value, entry.path, entry.line, problems_);  // any name
    for (const Field& group : groups.fields()) {
      std::vector<std::string>& members = policy_.groups[group.key];
      if (group.value.IsSequence() && group.value.size() == 0) continue;  // no members yet
      for (auto& [user, line] : Strings(group)) members.push_back(std::move(user));
    }
  }

  // A key saying who a rule or limits entry is for; false if `entry` is another key.
  bool Who(const Field& entry, YamlWho& who) {
    const std::string& key = entry.key;
    if (key == "users") {
      for (auto& [user, line] : Strings(entry)) who.users.push_back(std::move(user));
    } else if (key == "groups") {
      for (auto& [group, line] : Strings(entry)) {
        if (!policy_.groups.contains(group)) {
          Problem(line, absl::StrCat("unknown group ", Quote(group), " in '", entry.path,
                                     "' (not under the top-level 'groups')"));
        }
        who.groups.push_back(std::move(group));
      }
    } else if (key == "anonymous") {
      who.anonymous = OnlyTrue(entry);
    } else if (key == "everyone") {
      who.everyone = OnlyTrue(entry);
    } else if (key == "client_ids") {
      for (auto& [glob, line] : Strings(entry)) {
        who.conditions.client_id_globs.push_back(std::move(glob));
      }
    } else if (key == "cert_identities") {
      for (auto& [name, line] : Strings(entry)) {
        who.conditions.cert_identities.push_back(std::move(name));
      }
    } else if (key == "addresses") {
      Addresses(entry, who);
    } else if (key == "listeners") {
      for (auto& [name, line] : Strings(entry)) who.conditions.listeners.push_back(name);
    } else {
      return false;
    }
    return true;
  }

  static bool SaysWho(std::string_view key) {
    return key == "users" || key == "groups" || key == "anonymous" || key == "everyone" ||
           key == "client_ids" || key == "cert_identities";
  }

  // What every rule and limits entry must say about who it is for.
  void CheckWho(const YamlWho& who, bool have_principal, int line, const std::string& name) {
    const bool named = !who.users.empty() || !who.groups.empty() || who.anonymous;
    if (who.everyone && named) {
      Problem(line, absl::StrCat(name,
                                 ": 'everyone' cannot be combined with users, groups or "
                                 "anonymous"));
    }
    if (!have_principal) {
      Problem(line, absl::StrCat(name,
                                 " applies to nobody: give users, groups, client_ids, "
                                 "cert_identities, anonymous: true or everyone: true"));
    }
  }

  // An id of a rule or limits entry: one namespace, as both name denials.
  void Id(const Field& entry, std::string& id) {
    id = String(entry).value_or("");
    if (RuleLabels::IsReservedId(id)) {
      Problem(entry.line, absl::StrCat("rule id ", Quote(id),
                                       " is reserved: moat_denials_total{rule} uses it for "
                                       "denials no rule id names"));
    }
  }

  void UniqueId(const std::string& id, int line) {
    if (id.empty()) return;
    const auto [it, inserted] = ids_.try_emplace(id, line);
    if (!inserted) {
      Problem(line,
              absl::StrCat("duplicate rule id ", Quote(id), " (first at line ", it->second, ")"));
    }
  }

  void Rule(const Field& node) {
    if (!file_reading::ExpectMap(node, problems_)) return;
    YamlRule rule;
    rule.line = node.line;
    bool have_principal = false;  // a key saying who, even if its value was refused
    const Field* limit = nullptr;
    const Field* payload = nullptr;
    MapReader map(node.value, node.path, node.line, kRuleKeys, problems_);
    for (const Field& entry : map.fields()) {
      const std::string& key = entry.key;
      have_principal |= SaysWho(key);
      if (Who(entry, rule)) continue;
      if (key == "id") {
        Id(entry, rule.id);
      } else if (key == "mode") {
        Mode(entry, rule);
      } else if (key == "description") {
        String(entry);
      } else if (key == "effect") {
        const std::optional<std::string> effect = String(entry);
        if (effect && *effect != "allow" && *effect != "deny") {
          Problem(entry.line,
                  absl::StrCat("'", entry.path, "' must be allow or deny, got ", Quote(*effect)));
        }
        rule.deny = effect == "deny";
      } else if (key == "actions") {
        Actions(entry, rule);
      } else if (key == "topics") {
        Topics(entry, rule);
      } else if (key == "max_qos") {
        limit = &entry;
        const bool ok = entry.value.IsScalar() && entry.value.Scalar().size() == 1 &&
                        entry.value.Scalar()[0] >= '0' && entry.value.Scalar()[0] <= '2';
        if (!ok) Expected(entry, "0, 1 or 2");
        if (ok) rule.max_qos = static_cast<uint8_t>(entry.value.Scalar()[0] - '0');
      } else if (key == "retain") {
        limit = &entry;
        rule.allow_retain = file_reading::ReadBool(entry, problems_).value_or(true);
      } else if (key == "max_payload") {
        limit = &entry;
        payload = &entry;
        MaxPayload(entry, rule);
      } else if (key == "payload") {
        limit = &entry;
        payload = &entry;
        Format(entry, rule);
      }
    }
    const int line = rule.line;
    const std::string name = rule.id.empty() ? node.path : absl::StrCat("rule ", Quote(rule.id));
    for (std::string_view key : kRequiredRuleKeys) map.Require(key);
    if (limit != nullptr && rule.deny) {
      Problem(limit->line, absl::StrCat("'", limit->path,
                                        "' is a limit on what an allow rule "
                                        "grants; ",
                                        name, " is a deny rule"));
    }
    if (payload != nullptr && !rule.deny && rule.actions != 0 &&
        (rule.actions & kActionPublish) == 0) {
      Problem(payload->line, absl::StrCat("'", payload->path, "' limits what a rule lets publish; ",
                                          name, " grants no publish"));
    }
    CheckWho(rule, have_principal, line, name);
    UniqueId(rule.id, line);
    policy_.rules.push_back(std::move(rule));
  }

  void Limit(const Field& node) {
    if (!file_reading::ExpectMap(node, problems_)) return;
    YamlRateLimit limit;
    limit.line = node.line;
    bool have_principal = false;
    const Field* message_burst = nullptr;
    const Field* byte_burst = nullptr;
    MapReader map(node.value, node.path, node.line, kLimitKeys, problems_);
    for (const Field& entry : map.fields()) {
      const std::string& key = entry.key;
      have_principal |= SaysWho(key);
      if (Who(entry, limit)) continue;
      if (key == "id") {
        Id(entry, limit.id);
      } else if (key == "description") {
        String(entry);
      } else if (key == "messages_per_second") {
        limit.messages.emplace().per_second = Number(entry);
      } else if (key == "bytes_per_second") {
        limit.bytes.emplace().per_second = Number(entry);
      } else if (key == "message_burst") {
        message_burst = &entry;
      } else if (key == "byte_burst") {
        byte_burst = &entry;
      }
    }
    const std::string name =
        limit.id.empty() ? node.path : absl::StrCat("limits entry ", Quote(limit.id));
    map.Require("id");
    Burst(message_burst, "messages_per_second", limit.messages);
    Burst(byte_burst, "bytes_per_second", limit.bytes);
    if (!limit.messages && !limit.bytes) {
      Problem(limit.line,
              absl::StrCat(name, " sets no rate: give messages_per_second or bytes_per_second"));
    }
    CheckWho(limit, have_principal, limit.line, name);
    UniqueId(limit.id, limit.line);
    policy_.limits.push_back(std::move(limit));
  }

  // A burst belongs to the rate beside it; without one it is a second's worth.
  void Burst(const Field* burst, std::string_view rate_key, std::optional<Rate>& rate) {
    if (burst != nullptr && !rate) {
      Problem(burst->line,
              absl::StrCat("'", burst->path, "' needs '", Av(rate_key), "' in the same entry"));
      return;
    }
    if (!rate) return;
    if (burst == nullptr) {
      rate->burst = Rate::SecondsWorth(rate->per_second);
      return;
    }
    rate->burst = Number(*burst);
    if (rate->burst < 1) {
      Problem(burst->line, absl::StrCat("'", burst->path, "' must be at least 1"));
      rate->burst = 1;
    }
  }

  // A rate or burst: a number from 0, decimals allowed (0.1 a second is one in ten
  // seconds).
  double Number(const Field& entry) {
    const std::string text = entry.value.IsScalar() ? entry.value.Scalar() : std::string();
    double value = -1;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0 ||
        value > kLargestRate) {
      Expected(entry, "a number from 0 to 1e12");
      return 0;
    }
    return value;
  }

  // Bytes, as many as an MQTT packet can carry at most.
  void MaxPayload(const Field& entry, YamlRule& rule) {
    constexpr uint32_t kLargestPayload = 268'435'455;
    const std::string text = entry.value.IsScalar() ? entry.value.Scalar() : std::string();
    uint64_t bytes = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bytes);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
        bytes > kLargestPayload) {
      return Expected(entry, "a number of bytes from 0 to 268435455");
    }
    rule.max_payload = static_cast<uint32_t>(bytes);
  }

  void Format(const Field& entry, YamlRule& rule) {
    const std::optional<std::string> name = String(entry);
    if (!name) return;
    if (const std::optional<PayloadFormat> format = ParsePayloadFormat(*name)) {
      rule.payload_format = *format;
      return;
    }
    Problem(entry.line, absl::StrCat("'", entry.path, "' must be a payload format moat checks (",
                                     Av(PayloadFormatNames()), "), got ", Quote(*name)));
  }

  void Mode(const Field& entry, YamlRule& rule) {
    const std::optional<std::string> mode = String(entry);
    if (mode && std::find(std::begin(kModes), std::end(kModes), *mode) == std::end(kModes)) {
      Problem(entry.line, absl::StrCat("'", entry.path, "' must be enforce or audit, got ",
                                       Quote(*mode), DidYouMean(*mode, kModes)));
    }
    rule.audit = mode == "audit";
  }

  void Actions(const Field& entry, YamlRule& rule) {
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

  void Topics(const Field& entry, YamlRule& rule) {
    for (auto& [topic, line] : Strings(entry)) {
      if (const std::string_view problem = RuleFilterProblem(topic); !problem.empty()) {
        Problem(line, absl::StrCat("invalid topic filter ", Quote(topic), " in '", entry.path,
                                   "': ", Av(problem)));
        continue;
      }
      rule.topics.push_back(std::move(topic));
    }
  }

  void Addresses(const Field& entry, YamlWho& who) {
    for (const auto& [text, line] : Strings(entry)) {
      std::string error;
      if (const std::optional<Cidr> cidr = ParseCidr(text, &error)) {
        who.conditions.addresses.push_back(*cidr);
      } else {
        Problem(line, absl::StrCat("address ", Quote(text), " in '", entry.path, "' ", error));
      }
    }
  }

  std::string_view text_;
  YamlPolicy policy_;
  std::map<std::string, int, std::less<>> ids_;
  Problems problems_;
};

}  // namespace

absl::StatusOr<YamlPolicy> ParseYamlPolicy(std::string_view text, std::string_view filename) {
  Parser parser(filename, text);
  try {
    parser.Parse();
  } catch (const YAML::Exception& e) {  // a conversion yaml-cpp refused mid-way
    Problems problems(filename, text);
    problems.Add(LineOf(e.mark), absl::StrCat("YAML error: ", file_reading::ErrorMessage(e)));
    return problems.ToStatus();
  }
  return std::move(parser).Finish();
}

absl::StatusOr<YamlPolicy> LoadYamlPolicy(const std::string& path) {
  absl::StatusOr<std::string> text = file_reading::ReadFileText(path, "policy file");
  if (!text.ok()) return text.status();
  return ParseYamlPolicy(*text, path);
}

namespace {

// The users a rule or limits entry names, its groups' members included.
std::vector<std::string> ExpandGroups(const YamlPolicy& policy, const YamlWho& who) {
  std::vector<std::string> users = who.users;
  for (const std::string& group : who.groups) {
    if (const auto it = policy.groups.find(group); it != policy.groups.end()) {
      users.insert(users.end(), it->second.begin(), it->second.end());
    }
  }
  return users;
}

}  // namespace

void AddYamlPolicy(const YamlPolicy& policy, AclPolicy::Builder& builder, RuleLabels& labels) {
  RuleSpec spec;
  for (const YamlRule& rule : policy.rules) {
    spec.source = rule.id;
    spec.location = absl::StrCat(policy.filename, ":", rule.line);
    // Only a rule that can refuse something ever names a denial: plain allow rules take
    // no label, so they cannot use up the bounded set.
    const bool can_refuse = rule.deny || rule.max_qos < 2 || !rule.allow_retain ||
                            rule.max_payload != kNoPayloadLimit ||
                            rule.payload_format != PayloadFormat::kAny;
    spec.label = can_refuse ? labels.Assign(rule.id) : RuleLabels::kDefault;
    spec.deny = rule.deny;
    spec.audit = rule.audit;
    spec.actions = rule.actions;
    spec.max_qos = rule.max_qos;
    spec.allow_retain = rule.allow_retain;
    spec.max_payload = rule.max_payload;
    spec.payload_format = rule.payload_format;
    spec.filters = rule.topics;
    spec.placeholders = true;
    spec.anonymous = rule.anonymous;
    spec.users = ExpandGroups(policy, rule);
    spec.groups = rule.groups;
    // Without a named principal the rule is for everyone its conditions select.
    spec.everyone = rule.everyone || (spec.users.empty() && !rule.anonymous && rule.groups.empty());
    spec.conditions = rule.conditions;
    builder.Add(spec);
  }
  for (const YamlRateLimit& limit : policy.limits) {
    RateLimitSpec rate;
    rate.id = limit.id;
    rate.label = labels.Assign(limit.id);
    rate.anonymous = limit.anonymous;
    rate.users = ExpandGroups(policy, limit);
    rate.groups = limit.groups;
    rate.everyone =
        limit.everyone || (rate.users.empty() && !limit.anonymous && limit.groups.empty());
    rate.conditions = limit.conditions;
    rate.messages = limit.messages;
    rate.bytes = limit.bytes;
    builder.AddRateLimit(std::move(rate), absl::StrCat(policy.filename, ":", limit.line));
  }
}

}  // namespace moat::policy
