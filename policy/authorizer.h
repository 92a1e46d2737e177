// The one question-answering interface the data path asks before anything is
// forwarded: at CONNECT, for the Will, for each PUBLISH from the client, each SUBSCRIBE
// filter, and each PUBLISH the broker delivers. Implementations hold no sockets, never
// block, and are immutable snapshots: a reload builds a new one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/denial.h"
#include "policy/payload/payload_format.h"
#include "policy/rate_limits.h"

namespace moat::policy {

// What moat knows about a connection once its CONNECT has been authenticated.
struct ClientIdentity {
  std::string username;  // the authenticated identity; empty for an anonymous client
  std::string client_id;
  std::string cert_identity;  // from a verified client certificate, if any
  std::string address;        // source IP (after the PROXY protocol, if any)
  std::string listener;       // the listener's name
  // Groups a bearer token put the client in (auth.jwt.groups_claim): the native policy's
  // rules and limits for these groups apply as they do to the groups' listed members.
  std::vector<std::string> groups;

  // What an Authorizer worked out about this client once and reuses for every later
  // question (the ACL engine: where the client's rules start), so a decision skips the
  // lookup by name: with 100,000 users that lookup is a cache miss per packet. `snapshot`
  // names the Authorizer instance that wrote it (never reused, never 0), so a reload
  // cannot read a stale value. An identity belongs to one session on one thread; whoever
  // changes a field above after a decision resets the memo.
  struct Memo {
    uint64_t snapshot = 0;
    uint64_t value = 0;
  };
  mutable Memo memo;
};

enum class Verdict : uint8_t { kAllow, kDeny };

// policy.subscription_grant: when a SUBSCRIBE filter is granted. Either way every delivery
// is checked against the reader's rights, so the choice is about what a client is told.
enum class SubscriptionGrant : uint8_t {
  kAnyReadable,  // some topic it matches may be read (mosquitto's clients keep working)
  kAllReadable,  // every topic it matches may be read (what moat did before)
};

inline constexpr uint32_t kNoPayloadLimit = UINT32_MAX;

struct Decision {
  Verdict verdict = Verdict::kDeny;
  DenyReason reason = DenyReason::kNoRule;
  // What decided: "FILE:LINE", or a rule id of the native policy; empty for the default.
  // Points into the policy snapshot, which outlives every decision taken from it.
  std::string_view rule;
  // Set on an allow that a rule would have denied, were it not in audit mode (policy.mode
  // or the rule's own `mode: audit`): the data path lets it through but counts and logs
  // it as a denial (mode="audit"); `reason` and `rule` say what would have denied it.
  bool audit = false;
  // The deciding rule's number in RuleLabels (policy/rule_labels.h), for the `rule` label
  // of moat_denials_total: resolved when the policy was loaded, so counting a denial
  // needs no lookup. RuleLabels::kDefault (0) when no rule decided.
  uint16_t rule_label = 0;
  // SUBSCRIBE only; last, as callers list the fields above positionally. `partial`:
  // granted, but part of what the filter matches may not be read and is withheld at
  // delivery. `max_qos`: the highest QoS the rules grant it at; below the requested QoS,
  // the subscription is granted at this one.
  bool partial = false;
  uint8_t max_qos = 2;
  // PUBLISH and Will only: the format every granting rule requires of the payload (a
  // native rule's `payload:`; kAny when some grant requires none, the most generous grant
  // deciding as for max_payload). A payload not of it is refused (kPayloadFormat) naming
  // `rule` (then the lowest-numbered grant, which has the format) with `format_label`, or,
  // with `format_audit` (an audit-mode rule grants it), let through and reported. kAny
  // costs the data path one comparison. In padding: the decision cache's entries (and so
  // how many fit its bound) stay the size they were.
  uint16_t format_label = 0;  // as rule_label
  // PUBLISH and Will only: the largest payload the granting rules allow (a native rule's
  // max_payload; kNoPayloadLimit: none). A larger one is refused (kPayloadLimit) naming
  // `payload_rule`, or, with `payload_audit` (an audit-mode rule grants it), let through
  // and reported. Carried by the decision, so a cached one still judges every size.
  uint32_t max_payload = kNoPayloadLimit;
  bool payload_audit : 1 = false;
  bool format_audit : 1 = false;
  PayloadFormat payload_format = PayloadFormat::kAny;
  uint16_t payload_label = 0;  // as rule_label, for payload_rule
  std::string_view payload_rule{};

  bool allowed() const { return verdict == Verdict::kAllow; }
};
// Every DecisionCache entry holds one (proxy/decision_cache.h sizes its entries).
static_assert(sizeof(Decision) <= 56);

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Decision AuthorizeConnect(const ClientIdentity& client) const = 0;
  // A PUBLISH from the client, or its Will (checked at CONNECT).
  virtual Decision MayPublish(const ClientIdentity& client, std::string_view topic, uint8_t qos,
                              bool retain) const = 0;
  // A SUBSCRIBE filter: granted when some topic it can match may be read (or, with
  // SubscriptionGrant::kAllReadable, only when every one may). "$share/{group}/{filter}"
  // and "$queue/{filter}" are judged on their inner filter.
  virtual Decision MaySubscribe(const ClientIdentity& client, std::string_view filter,
                                uint8_t qos) const = 0;
  // For `policy explain`: the first deny rule sharing a topic with `filter`, which is what
  // withholds part of a granted filter at delivery; a Decision naming no rule if none.
  virtual Decision DenyInside(const ClientIdentity& client, std::string_view filter) const {
    (void)client;
    (void)filter;
    return {};
  }
  // A PUBLISH the broker delivers to the client, retained messages included.
  virtual Decision MayReceive(const ClientIdentity& client, std::string_view topic) const = 0;
  // The rates the policy sets for `client` (the native policy's `limits` entries);
  // asked once per session, at login and after each reload.
  virtual RateOverrides RatesFor(const ClientIdentity& client) const {
    (void)client;
    return {};
  }
  // Whether a rule names this client: by its user name (a user's own rules, a group it
  // is in) or by its certificate identity (a rule's cert_identities). Rules for everyone
  // or for anonymous clients name nobody. A reload ends the session of a certificate
  // identity the old policy named and the new one does not (Session::PolicyChanged).
  virtual bool NamesIdentity(const ClientIdentity& client) const {
    (void)client;
    return false;
  }
  // Changes with every reload; lets a session drop cached decisions.
  virtual uint64_t version() const { return 0; }
  // Where a Decision::rule is written ("FILE:LINE"), for `moat policy explain`; empty when
  // the rule names its place itself (acl_file lines) or is not from a file.
  virtual std::string_view RuleLocation(std::string_view rule) const {
    (void)rule;
    return {};
  }
};

// policy.mode: audit. Every denial of `inner` becomes an allow marked `audit`, so an
// operator sees what enforcement would refuse before turning it on.
std::shared_ptr<const Authorizer> MakeAuditModeAuthorizer(std::shared_ptr<const Authorizer> inner);

// Grants everything: moat as an invisible, parsing-only proxy (policy.allow_all: true).
std::shared_ptr<const Authorizer> MakeAllowAllAuthorizer();
// Lets clients connect and grants nothing else: what a config without a policy gets.
std::shared_ptr<const Authorizer> MakeDenyAllAuthorizer();

}  // namespace moat::policy
