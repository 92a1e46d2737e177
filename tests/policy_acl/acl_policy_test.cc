// AclPolicy built from acl_file text: one test per CONTRACT.md compatibility rule, the
// mosquitto 2.0 scoping of lines, identities that try to gain wildcard power, SUBSCRIBE
// checks (covering, deny inside, shared subscriptions) and delivery checks.
#include "policy/acl/acl_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_file.h"

namespace moat::policy {
namespace {

using ::testing::MatchesRegex;

std::shared_ptr<const AclPolicy> FromAcl(
    std::string_view text, uint64_t version = 1,
    SubscriptionGrant grant = SubscriptionGrant::kAnyReadable) {
  absl::StatusOr<AclFile> file = ParseAclFile(text, "acl");
  EXPECT_TRUE(file.ok()) << file.status();
  AclPolicy::Builder builder;
  builder.SetSubscriptionGrant(grant);
  if (file.ok()) AddAclFile(*file, builder);
  return std::move(builder).Build(version);
}

ClientIdentity User(std::string name, std::string client_id = "client-1") {
  ClientIdentity client;
  client.username = std::move(name);
  client.client_id = std::move(client_id);
  return client;
}

ClientIdentity Anonymous(std::string client_id = "client-1") { return User("", client_id); }

// "allow acl:3", "deny acl:5 deny_rule", "deny no_rule".
std::string Show(const Decision& d) {
  if (d.allowed()) return absl::StrCat("allow ", std::string(d.rule));
  if (d.rule.empty()) return absl::StrCat("deny ", std::string(DenyReasonName(d.reason)));
  return absl::StrCat("deny ", std::string(d.rule), " ", std::string(DenyReasonName(d.reason)));
}

std::string Pub(const AclPolicy& p, const ClientIdentity& c, std::string_view topic) {
  return Show(p.MayPublish(c, topic, 0, false));
}
std::string Sub(const AclPolicy& p, const ClientIdentity& c, std::string_view filter) {
  return Show(p.MaySubscribe(c, filter, 0));
}
// Sub() with what only a SUBSCRIBE grant carries: "allow acl:2 partial", "... qos 1".
std::string SubDetail(const AclPolicy& p, const ClientIdentity& c, std::string_view filter,
                      uint8_t qos = 0) {
  const Decision d = p.MaySubscribe(c, filter, qos);
  std::string shown = Show(d);
  if (d.allowed() && d.partial) shown += " partial";
  if (d.allowed() && d.max_qos < qos) absl::StrAppend(&shown, " qos ", d.max_qos);
  return shown;
}
std::string Recv(const AclPolicy& p, const ClientIdentity& c, std::string_view topic) {
  return Show(p.MayReceive(c, topic));
}

// ---- CONTRACT.md "Mosquitto compatibility" ----------------------------------------------

TEST(AclContract, WhatNoLineGrantsIsDenied) {
  const auto p = FromAcl("user alice\ntopic read a/b\n");
  EXPECT_EQ(Pub(*p, User("alice"), "a/b"), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("alice"), "a/c"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("alice"), "b/+"), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("bob"), "a/b"), "deny no_rule");
  EXPECT_EQ(Recv(*p, Anonymous(), "a/b"), "deny no_rule");
  // And an empty acl_file grants nothing at all.
  const auto empty = FromAcl("");
  EXPECT_EQ(Pub(*empty, User("alice"), "a"), "deny no_rule");
}

TEST(AclContract, PatternLinesApplyToEveryoneWithUsernameAndClientIdSubstituted) {
  const auto p = FromAcl(
      "user alice\n"
      "topic read other\n"
      "pattern readwrite users/%u/#\n"
      "pattern write devices/%c/state\n");
  EXPECT_EQ(Pub(*p, User("alice"), "users/alice/x"), "allow acl:3");
  EXPECT_EQ(Pub(*p, User("bob"), "users/bob"), "allow acl:3");
  EXPECT_EQ(Pub(*p, User("bob"), "users/alice/x"), "deny no_rule");
  EXPECT_EQ(Pub(*p, User("bob", "dev7"), "devices/dev7/state"), "allow acl:4");
  EXPECT_EQ(Pub(*p, Anonymous("dev8"), "devices/dev8/state"), "allow acl:4");
  EXPECT_EQ(Pub(*p, User("bob", "dev7"), "devices/dev8/state"), "deny no_rule");
}

TEST(AclContract, TopicDenyLinesWin) {
  // The deny comes after the grant in the file: still wins (not list order).
  const auto p = FromAcl(
      "user alice\n"
      "topic readwrite a/#\n"
      "topic deny a/secret\n"
      "topic readwrite a/secret\n");
  EXPECT_EQ(Pub(*p, User("alice"), "a/secret"), "deny acl:3 deny_rule");
  EXPECT_EQ(Recv(*p, User("alice"), "a/secret"), "deny acl:3 deny_rule");
  EXPECT_EQ(Pub(*p, User("alice"), "a/public"), "allow acl:2");
}

TEST(AclContract, WildcardsNeverMatchTopicsStartingWithDollar) {
  const auto p = FromAcl("user alice\ntopic readwrite #\ntopic read +/broker/#\n");
  EXPECT_EQ(Recv(*p, User("alice"), "$SYS/broker/load"), "deny no_rule");
  EXPECT_EQ(Pub(*p, User("alice"), "$SYS/x"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("alice"), "$SYS/#"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("alice"), "$SYS/broker/+"), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("alice"), "sys/broker/load"), "allow acl:2");
  // A grant naming the '$' level works.
  const auto sys = FromAcl("topic read $SYS/#\n");
  EXPECT_EQ(Recv(*sys, Anonymous(), "$SYS/broker/load"), "allow acl:1");
  EXPECT_EQ(Sub(*sys, Anonymous(), "$SYS/broker/+"), "allow acl:1");
}

// ---- mosquitto 2.0 scoping --------------------------------------------------------------

TEST(AclPolicy, LinesBeforeTheFirstUserAreForAnonymousClientsOnly) {
  const auto p = FromAcl("topic read public/#\nuser alice\ntopic read alice/#\n");
  EXPECT_EQ(Recv(*p, Anonymous(), "public/news"), "allow acl:1");
  EXPECT_EQ(Recv(*p, User("alice"), "public/news"), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("bob"), "public/news"), "deny no_rule");
  EXPECT_EQ(Recv(*p, Anonymous(), "alice/x"), "deny no_rule");
}

TEST(AclPolicy, BlocksOfTheSameUserMerge) {
  const auto p =
      FromAcl("user alice\ntopic read a\nuser bob\ntopic read b\nuser alice\ntopic read c\n");
  EXPECT_EQ(Recv(*p, User("alice"), "a"), "allow acl:2");
  EXPECT_EQ(Recv(*p, User("alice"), "c"), "allow acl:6");
  EXPECT_EQ(Recv(*p, User("alice"), "b"), "deny no_rule");
}

TEST(AclPolicy, UserNamesMayHoldSpacesAndAreCaseSensitive) {
  const auto p = FromAcl("user John Smith\ntopic read a\n");
  EXPECT_EQ(Recv(*p, User("John Smith"), "a"), "allow acl:2");
  EXPECT_EQ(Recv(*p, User("john smith"), "a"), "deny no_rule");
}

TEST(AclPolicy, AccessTypesSeparateReadingAndWriting) {
  const auto p = FromAcl("user u\ntopic read r\ntopic write w\ntopic readwrite rw\ntopic both\n");
  const ClientIdentity u = User("u");
  EXPECT_EQ(Recv(*p, u, "r"), "allow acl:2");
  EXPECT_EQ(Sub(*p, u, "r"), "allow acl:2");
  EXPECT_EQ(Pub(*p, u, "r"), "deny no_rule");
  EXPECT_EQ(Pub(*p, u, "w"), "allow acl:3");
  EXPECT_EQ(Recv(*p, u, "w"), "deny no_rule");
  EXPECT_EQ(Sub(*p, u, "w"), "deny no_rule");
  EXPECT_EQ(Pub(*p, u, "rw"), "allow acl:4");
  EXPECT_EQ(Recv(*p, u, "rw"), "allow acl:4");
  EXPECT_EQ(Pub(*p, u, "both"), "allow acl:5");  // no access type: readwrite
  EXPECT_EQ(Recv(*p, u, "both"), "allow acl:5");
}

TEST(AclPolicy, DenyRefusesBothDirections) {
  const auto p = FromAcl("user u\ntopic readwrite #\ntopic deny x\n");
  EXPECT_EQ(Pub(*p, User("u"), "x"), "deny acl:3 deny_rule");
  EXPECT_EQ(Recv(*p, User("u"), "x"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, User("u"), "x"), "deny acl:3 deny_rule");
}

TEST(AclPolicy, PatternDenyBeatsUserGrantAndUserDenyBeatsPatternGrant) {
  // mosquitto checks a user's own lines first and stops at a grant there; moat's deny pass
  // covers every source, so a deny anywhere wins.
  const auto p = FromAcl(
      "user alice\ntopic readwrite #\ntopic deny shared/locked\n"
      "pattern deny %u/private\npattern readwrite shared/#\n");
  EXPECT_EQ(Pub(*p, User("alice"), "alice/private"), "deny acl:4 deny_rule");
  EXPECT_EQ(Pub(*p, User("alice"), "shared/locked"), "deny acl:3 deny_rule");
  EXPECT_EQ(Pub(*p, User("bob"), "shared/locked"), "allow acl:5");
}

TEST(AclPolicy, DecisionNamesTheFirstMatchingLine) {
  const auto p =
      FromAcl("user u\ntopic read a/+\ntopic read a/#\ntopic deny a/x\ntopic deny +/x\n");
  EXPECT_EQ(Recv(*p, User("u"), "a/b"), "allow acl:2");
  EXPECT_EQ(Recv(*p, User("u"), "a/x"), "deny acl:4 deny_rule");
  EXPECT_EQ(Recv(*p, User("u"), "b/x"), "deny acl:5 deny_rule");
}

TEST(AclPolicy, PatternsUsingUsernameSkipAnonymousClients) {
  const auto p = FromAcl("pattern readwrite %u/#\npattern deny %u\npattern read c/%c\n");
  EXPECT_EQ(Pub(*p, Anonymous(), "x"), "deny no_rule");
  EXPECT_EQ(Pub(*p, Anonymous(), "/x"), "deny no_rule");  // never "" for %u
  EXPECT_EQ(Recv(*p, Anonymous("k"), "c/k"), "allow acl:3");
}

TEST(AclPolicy, TopicLinesTakePercentLiterally) {
  const auto p = FromAcl("user alice\ntopic read %u/x\n");
  EXPECT_EQ(Recv(*p, User("alice"), "%u/x"), "allow acl:2");
  EXPECT_EQ(Recv(*p, User("alice"), "alice/x"), "deny no_rule");
}

TEST(AclPolicy, PlaceholderInsideALevel) {
  const auto p = FromAcl("pattern read in/dev-%u-%c/#\npattern read %%u\n");
  EXPECT_EQ(Recv(*p, User("al", "c9"), "in/dev-al-c9/t"), "allow acl:1");
  EXPECT_EQ(Recv(*p, User("al", "c9"), "in/dev-al-c8/t"), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("al", "c9"), "in/dev-al-c9x/t"), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("al", "c9"), "%al"), "allow acl:2");
  EXPECT_EQ(Sub(*p, User("al", "c9"), "in/dev-al-c9/#"), "allow acl:1");
  EXPECT_EQ(Sub(*p, User("al", "c9"), "in/+/#"), "allow acl:1");  // shares in/dev-al-c9/#
  EXPECT_EQ(Sub(*p, User("al", "c9"), "in/dev-al-c8/#"), "deny no_rule");
}

// ---- identities that try to gain wildcard power (CVE-2017-7650 class) -------------------

TEST(AclIdentity, UsernameWithWildcardsGainsNothing) {
  const auto p = FromAcl("pattern readwrite users/%u/#\n");
  for (const char* name : {"+", "#", "a+", "a#b", "+/#"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Pub(*p, User(name), "users/x/y"), "deny no_rule");
    EXPECT_EQ(Recv(*p, User(name), "users/x"), "deny no_rule");
    EXPECT_EQ(Sub(*p, User(name), "users/+/#"), "deny no_rule");
    EXPECT_EQ(Sub(*p, User(name), "users/#"), "deny no_rule");
    EXPECT_EQ(Sub(*p, User(name), std::string("users/") + name), "deny no_rule");
  }
  EXPECT_EQ(Pub(*p, User("x"), "users/x/y"), "allow acl:1");
}

TEST(AclIdentity, ClientIdWithSlashGainsNoLevels) {
  const auto p = FromAcl("pattern readwrite devices/%c\n");
  EXPECT_EQ(Pub(*p, Anonymous("a/b"), "devices/a/b"), "deny no_rule");
  EXPECT_EQ(Pub(*p, Anonymous("a"), "devices/a"), "allow acl:1");
  EXPECT_EQ(Pub(*p, Anonymous(""), "devices/"), "deny no_rule");  // empty id fills nothing
}

TEST(AclIdentity, UnsafeIdentityCannotDodgeADenyPattern) {
  // mosquitto substitutes the text: a client id "a/b" is denied devices/a/b/config. moat
  // cannot express that as one level, so it denies all of devices/ to such a client.
  const auto p = FromAcl("user u\ntopic readwrite devices/#\npattern deny devices/%c/config\n");
  EXPECT_EQ(Pub(*p, User("u", "a/b"), "devices/a/b/config"), "deny acl:3 deny_rule");
  EXPECT_EQ(Pub(*p, User("u", "a/b"), "devices/other"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, User("u", "+"), "devices/+/config"), "deny acl:3 deny_rule");
  EXPECT_EQ(Pub(*p, User("u", "c1"), "devices/c1/config"), "deny acl:3 deny_rule");
  EXPECT_EQ(Pub(*p, User("u", "c1"), "devices/c2/config"), "allow acl:2");
  EXPECT_EQ(Sub(*p, User("u", "c1"), "devices/c2/#"), "allow acl:2");
  // Everyone else's config may be read: granted, c1's own withheld at delivery.
  EXPECT_EQ(Sub(*p, User("u", "c1"), "devices/+/config"), "allow acl:2");
  EXPECT_EQ(Sub(*p, User("u", "c1"), "devices/c1/config"), "deny acl:3 deny_rule");
}

TEST(AclIdentity, UserBlockNamedWithWildcardsIsJustAName) {
  const auto p = FromAcl("user +\ntopic read a\n");
  EXPECT_EQ(Recv(*p, User("+"), "a"), "allow acl:2");
  EXPECT_EQ(Recv(*p, User("bob"), "a"), "deny no_rule");
}

// ---- SUBSCRIBE and delivery -------------------------------------------------------------

// ---- SUBSCRIBE: granted when something it matches may be read (the default) -----------

TEST(AclSubscribe, IssueThirteensDashboardKeepsItsFilters) {
  // What a mosquitto user writes for an HMI; against mosquitto both filters deliver.
  const auto p = FromAcl(
      "user hmi\n"
      "topic readwrite plant/#\n"
      "topic deny plant/safety/#\n"
      "topic read lines/+/speed\n");
  const ClientIdentity hmi = User("hmi");
  EXPECT_EQ(SubDetail(*p, hmi, "plant/#"), "allow acl:2 partial");
  EXPECT_EQ(SubDetail(*p, hmi, "lines/#"), "allow acl:4 partial");
  EXPECT_EQ(SubDetail(*p, hmi, "lines/+/speed"), "allow acl:4");
  EXPECT_EQ(SubDetail(*p, hmi, "plant/line1/#"), "allow acl:2");
  EXPECT_THAT(SubDetail(*p, hmi, "+/+/speed"), MatchesRegex("allow acl:[24] partial"));
  EXPECT_EQ(SubDetail(*p, hmi, "#").substr(0, 5), "allow");
  // What it can never deliver is still refused, naming the deny that withholds it.
  EXPECT_EQ(Sub(*p, hmi, "plant/safety/#"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, hmi, "plant/safety/+/x"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, hmi, "lines/3/temperature"), "deny no_rule");
  EXPECT_EQ(Sub(*p, hmi, "other/#"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("someone"), "plant/#"), "deny no_rule");
  // And deliveries are judged one by one, as before.
  EXPECT_EQ(Recv(*p, hmi, "plant/safety/valve"), "deny acl:3 deny_rule");
  EXPECT_EQ(Recv(*p, hmi, "plant/line1/state"), "allow acl:2");
  EXPECT_EQ(Recv(*p, hmi, "lines/3/speed"), "allow acl:4");
  EXPECT_EQ(Recv(*p, hmi, "lines/3/temperature"), "deny no_rule");
}

TEST(AclSubscribe, AReadRuleWhollyDeniedGrantsNothing) {
  // b/x/# shares b/x/# with "#"-ish filters, but the deny covers it all; a/# still gives.
  const auto p = FromAcl("user u\ntopic read a/#\ntopic read b/x/#\ntopic deny b/+/#\n");
  const ClientIdentity u = User("u");
  EXPECT_EQ(Sub(*p, u, "b/#"), "deny acl:4 deny_rule");
  EXPECT_EQ(Sub(*p, u, "b/x"), "deny acl:4 deny_rule");
  EXPECT_EQ(SubDetail(*p, u, "+/x"), "allow acl:2 partial");
  EXPECT_EQ(SubDetail(*p, u, "a/+"), "allow acl:2");
  // "b" itself is no b/+/# topic, and b/x/# does not reach "b": nothing gives it.
  EXPECT_EQ(Sub(*p, u, "b"), "deny no_rule");
}

TEST(AclSubscribe, SharesAreWorkedOutLevelByLevel) {
  const auto p = FromAcl("user u\ntopic read a/+/c\ntopic read d\ntopic read e/#\n");
  const ClientIdentity u = User("u");
  EXPECT_EQ(SubDetail(*p, u, "a/b/+"), "allow acl:2 partial");  // shares a/b/c
  EXPECT_EQ(SubDetail(*p, u, "a/#"), "allow acl:2 partial");
  EXPECT_EQ(Sub(*p, u, "a/b"), "deny no_rule");  // one level short
  EXPECT_EQ(Sub(*p, u, "a/b/c/d"), "deny no_rule");
  EXPECT_EQ(SubDetail(*p, u, "d/#"), "allow acl:3 partial");  // "d/#" matches d itself
  EXPECT_EQ(Sub(*p, u, "d/+"), "deny no_rule");
  EXPECT_EQ(SubDetail(*p, u, "e"), "allow acl:4");  // "e/#" matches e itself
  EXPECT_THAT(SubDetail(*p, u, "+"), MatchesRegex("allow acl:[34] partial"));
}

TEST(AclSubscribe, WildcardFiltersShareNoDollarTopics) {
  const auto p = FromAcl("user u\ntopic read $SYS/broker/#\n");
  EXPECT_EQ(Sub(*p, User("u"), "#"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("u"), "+/broker/#"), "deny no_rule");
  EXPECT_EQ(SubDetail(*p, User("u"), "$SYS/#"), "allow acl:2 partial");
}

TEST(AclSubscribe, PlaceholdersShareOnlyTheClientsOwnLevel) {
  const auto p = FromAcl("pattern read users/%u/#\npattern deny users/%u/private/#\n");
  EXPECT_EQ(SubDetail(*p, User("al"), "users/#"), "allow acl:1 partial");
  EXPECT_EQ(SubDetail(*p, User("al"), "users/+/status"), "allow acl:1 partial");
  EXPECT_EQ(Sub(*p, User("al"), "users/+/private/#"), "deny acl:2 deny_rule");
  EXPECT_EQ(Sub(*p, User("al"), "users/bo/#"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("a+"), "users/#"), "deny no_rule");
  EXPECT_EQ(Sub(*p, Anonymous(), "users/#"), "deny no_rule");
}

TEST(AclSubscribe, GrantedAtTheLowestQosOfTheRulesItDeliversUnder) {
  AclPolicy::Builder builder;
  RuleSpec all;
  all.source = "all";
  all.actions = kActionRead;
  all.everyone = true;
  all.filters = {"a/#"};
  all.max_qos = 1;
  builder.Add(all);
  RuleSpec one = all;
  one.source = "one";
  one.filters = {"a/b"};
  one.max_qos = 2;
  builder.Add(one);
  RuleSpec other = all;
  other.source = "other";
  other.filters = {"c/#"};
  other.max_qos = 0;
  builder.Add(other);
  const auto p = std::move(builder).Build(1);
  const ClientIdentity u = User("u");
  EXPECT_EQ(SubDetail(*p, u, "a/#", 2), "allow all qos 1");
  EXPECT_EQ(SubDetail(*p, u, "a/b", 2), "allow all qos 1");
  EXPECT_EQ(SubDetail(*p, u, "a/c", 1), "allow all");
  EXPECT_THAT(SubDetail(*p, u, "#", 2), MatchesRegex("allow (all|other) partial qos 0"));
  EXPECT_EQ(SubDetail(*p, u, "c/x", 1), "allow other qos 0");
}

TEST(AclSubscribe, AnAuditModeDenyReportsWhatEnforcingWouldRefuse) {
  AclPolicy::Builder builder;
  RuleSpec grant;
  grant.source = "grant";
  grant.actions = kActionRead;
  grant.everyone = true;
  grant.filters = {"a/#"};
  builder.Add(grant);
  RuleSpec audit;
  audit.source = "audit";
  audit.deny = true;
  audit.audit = true;
  audit.everyone = true;
  audit.filters = {"a/x/#"};
  builder.Add(audit);
  const auto p = std::move(builder).Build(1);
  const Decision partial = p->MaySubscribe(User("u"), "a/#", 0);
  EXPECT_TRUE(partial.allowed());
  EXPECT_FALSE(partial.audit);  // enforcing would grant it too
  const Decision refused = p->MaySubscribe(User("u"), "a/x/+", 0);
  EXPECT_TRUE(refused.allowed());
  EXPECT_TRUE(refused.audit);
  EXPECT_EQ(refused.rule, "audit");
  EXPECT_EQ(refused.reason, DenyReason::kDenyRule);
}

TEST(AclSubscribe, DenyInsideNamesWhatWithholdsPartOfAGrant) {
  const auto p = FromAcl("user u\ntopic read a/#\ntopic deny a/x/#\ntopic deny a/y\n");
  EXPECT_EQ(p->DenyInside(User("u"), "a/#").rule, "acl:3");
  EXPECT_EQ(p->DenyInside(User("u"), "a/y/#").rule, "acl:4");
  EXPECT_EQ(p->DenyInside(User("u"), "a/z/#").rule, "");
}

// ---- SUBSCRIBE with policy.subscription_grant: all_readable -----------------------------

TEST(AclSubscribeAllReadable, NeedsOneGrantCoveringTheWholeFilter) {
  const auto p = FromAcl("user u\ntopic read a/+\ntopic read b/#\ntopic read c/x\n", 1,
                         SubscriptionGrant::kAllReadable);
  const ClientIdentity u = User("u");
  EXPECT_EQ(Sub(*p, u, "a/+"), "allow acl:2");
  EXPECT_EQ(Sub(*p, u, "a/q"), "allow acl:2");
  EXPECT_EQ(Sub(*p, u, "a/#"), "deny no_rule");  // "a/#" also reaches a, a/x/y
  EXPECT_EQ(Sub(*p, u, "a"), "deny no_rule");
  EXPECT_EQ(Sub(*p, u, "b/#"), "allow acl:3");
  EXPECT_EQ(Sub(*p, u, "b"), "allow acl:3");
  EXPECT_EQ(Sub(*p, u, "b/+/z"), "allow acl:3");
  EXPECT_EQ(Sub(*p, u, "c/+"), "deny no_rule");
  EXPECT_EQ(Sub(*p, u, "#"), "deny no_rule");
}

TEST(AclSubscribeAllReadable, DeniedWhenADenyRuleLiesInsideTheFilter) {
  // mosquitto grants these SUBSCRIBEs and then silently drops part of the traffic.
  const auto p = FromAcl("user u\ntopic readwrite a/#\ntopic deny a/secret/+\n", 1,
                         SubscriptionGrant::kAllReadable);
  const ClientIdentity u = User("u");
  EXPECT_EQ(Sub(*p, u, "a/#"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, u, "a/+/+"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, u, "a/secret/x"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, u, "a/public/#"), "allow acl:2");
  EXPECT_EQ(Sub(*p, u, "a/+"), "allow acl:2");  // two levels: never a/secret/x
  EXPECT_EQ(Sub(*p, u, "a/secret"), "allow acl:2");
}

TEST(AclSubscribe, ADenyInsideMakesAGrantPartialUnlessItCoversTheFilter) {
  const auto p = FromAcl("user u\ntopic readwrite a/#\ntopic deny a/secret/+\n");
  const ClientIdentity u = User("u");
  EXPECT_EQ(SubDetail(*p, u, "a/#"), "allow acl:2 partial");
  EXPECT_EQ(SubDetail(*p, u, "a/+/+"), "allow acl:2 partial");
  EXPECT_EQ(Sub(*p, u, "a/secret/x"), "deny acl:3 deny_rule");
  EXPECT_EQ(Sub(*p, u, "a/secret/+"), "deny acl:3 deny_rule");
  EXPECT_EQ(SubDetail(*p, u, "a/public/#"), "allow acl:2");
  EXPECT_EQ(SubDetail(*p, u, "a/secret"), "allow acl:2");
}

TEST(AclSubscribe, WriteOnlyDenyDoesNotExist) {
  // An acl_file deny refuses both directions; a write grant is no read grant.
  const auto p = FromAcl("user u\ntopic write a/#\n");
  EXPECT_EQ(Sub(*p, User("u"), "a/#"), "deny no_rule");
}

TEST(AclReceive, DenyInsideAnAllowedWildcardIsEnforcedAtDelivery) {
  const auto p = FromAcl("user u\ntopic read sensors/#\ntopic deny sensors/+/raw\n");
  EXPECT_EQ(Recv(*p, User("u"), "sensors/t1/celsius"), "allow acl:2");
  EXPECT_EQ(Recv(*p, User("u"), "sensors/t1/raw"), "deny acl:3 deny_rule");
  EXPECT_EQ(Recv(*p, User("u"), "sensors"), "allow acl:2");
}

TEST(AclSubscribe, SharedSubscriptionsAreJudgedOnTheInnerFilter) {
  const auto p = FromAcl("user u\ntopic read jobs/+\ntopic deny jobs/admin\n");
  const ClientIdentity u = User("u");
  EXPECT_EQ(Sub(*p, u, "$share/workers/jobs/a"), "allow acl:2");
  EXPECT_EQ(Sub(*p, u, "$queue/jobs/a"), "allow acl:2");
  EXPECT_EQ(Sub(*p, u, "$share/workers/jobs/admin"), "deny acl:3 deny_rule");
  EXPECT_EQ(SubDetail(*p, u, "$share/workers/jobs/+"), "allow acl:2 partial");
  EXPECT_EQ(SubDetail(*p, u, "$share/workers/#"), "allow acl:2 partial");
  EXPECT_EQ(Sub(*p, u, "$share/workers/other"), "deny no_rule");
  EXPECT_EQ(Sub(*p, u, "$share/workers"), "deny no_rule");  // malformed
  EXPECT_EQ(Sub(*p, u, "$share/w+/jobs/a"), "deny no_rule");
}

TEST(AclSubscribe, SharedGroupNameGrantsNothingByItself) {
  // "$share/jobs/x" is the filter "x" for group "jobs", not the topic "$share/jobs/x".
  const auto p = FromAcl("user u\ntopic read $share/jobs/x\n");
  EXPECT_EQ(Sub(*p, User("u"), "$share/jobs/x"), "deny no_rule");
}

TEST(AclPolicy, InvalidTopicsAreDenied) {
  const auto p = FromAcl("user u\ntopic readwrite #\n");
  EXPECT_EQ(Pub(*p, User("u"), "a/+"), "deny no_rule");
  EXPECT_EQ(Pub(*p, User("u"), ""), "deny no_rule");
  EXPECT_EQ(Recv(*p, User("u"), "a/#"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("u"), "a/#/b"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("u"), ""), "deny no_rule");
}

TEST(AclPolicy, ConnectIsAllowedAndVersionReported) {
  const auto p = FromAcl("", 42);
  EXPECT_TRUE(p->AuthorizeConnect(Anonymous()).allowed());
  EXPECT_EQ(p->version(), 42u);
}

// A connection keeps asking with one ClientIdentity, whose memo remembers where its user's
// rules lie: a reloaded policy (even one with the same version number) must not use it.
TEST(AclPolicy, OneIdentityAskingSeveralPoliciesGetsEachOnesAnswer) {
  const auto grants = FromAcl("user alice\ntopic write a/b\n", 7);
  const auto other_user = FromAcl("user bob\ntopic write a/b\nuser alice\ntopic write c\n", 7);
  const auto anonymous_only = FromAcl("topic write a/b\n", 7);
  const ClientIdentity alice = User("alice");
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(Pub(*grants, alice, "a/b"), "allow acl:2");
    EXPECT_EQ(Pub(*other_user, alice, "a/b"), "deny no_rule");
    EXPECT_EQ(Pub(*other_user, alice, "c"), "allow acl:4");
    EXPECT_EQ(Pub(*anonymous_only, alice, "a/b"), "deny no_rule");
  }
  ClientIdentity becomes_anonymous = User("alice");
  EXPECT_EQ(Pub(*anonymous_only, becomes_anonymous, "a/b"), "deny no_rule");
  becomes_anonymous.username.clear();
  becomes_anonymous.memo = {};
  EXPECT_EQ(Pub(*anonymous_only, becomes_anonymous, "a/b"), "allow acl:1");
}

TEST(AclPolicy, ManyChildrenUseTheHashIndex) {
  std::string text = "user u\n";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&text, "topic read t/", i, "\n");
  absl::StrAppend(&text, "topic deny t/+\n");
  const auto p = FromAcl(text);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(Recv(*p, User("u"), absl::StrCat("t/", i)), "deny acl:102 deny_rule");
  }
  const auto q = FromAcl(text.substr(0, text.rfind("topic deny")));
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(Recv(*q, User("u"), absl::StrCat("t/", i)), absl::StrCat("allow acl:", i + 2));
  }
  EXPECT_EQ(Recv(*q, User("u"), "t/100"), "deny no_rule");
  EXPECT_EQ(Sub(*p, User("u"), "t/+"), "deny acl:102 deny_rule");
}

TEST(AclPolicy, AnswersFromManyThreadsAtOnce) {
  const auto p = FromAcl("pattern readwrite users/%u/#\npattern deny users/%u/locked\n");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const ClientIdentity c = User(absl::StrCat("user", t));
      for (int i = 0; i < 20000; ++i) {
        if (!p->MayPublish(c, absl::StrCat("users/user", t, "/", i), 0, false).allowed()) ++wrong;
        if (p->MayReceive(c, absl::StrCat("users/user", t, "/locked")).allowed()) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace moat::policy
