// Small, stable numbers for the rules that can decide a denial, so that the data path
// counts moat_denials_total{rule} by array index (no lookup, no hashing per packet) and a
// hostile or careless policy cannot mint unbounded label values.
//
//   policy load (control plane) ── Assign(id) ──► RuleLabels ◄── Names() ── /metrics scrape
//        │                                          (process-wide, survives reloads)
//        └─► Decision::rule_label ──► Denial ──► ThreadCounters slot [.., rule_label]
//
// The policy is rebuilt on every reload, but counters live as long as the process: an id
// must keep its number across reloads, or a slot counted for one rule would be reported
// under another. So numbers are never reused: the first kMaxIds distinct ids moat loads
// get their own, later ones share kOther (a restart starts afresh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace moat::policy {

class RuleLabels {
 public:
  // Fixed values, which the native policy refuses as rule ids (IsReservedId()).
  static constexpr uint16_t kDefault = 0;        // "default": no rule decided (default deny,
                                                 // authentication, bans)
  static constexpr uint16_t kAclFile = 1;        // "acl_file": any line of the acl_file
  static constexpr uint16_t kReservedTopic = 2;  // "reserved_topic": $SYS/$share publishes
  static constexpr uint16_t kOther = 3;          // "other": ids past kMaxIds, or unusable
  static constexpr uint16_t kFirstId = 4;
  static constexpr size_t kMaxIds = 256;
  static constexpr size_t kCount = kFirstId + kMaxIds;
  // Longer ids make poor label values; they count as "other".
  static constexpr size_t kMaxIdLength = 128;

  static bool IsReservedId(std::string_view id);

  // The number for a native rule id: the same id always gets the same one. Thread-safe.
  uint16_t Assign(std::string_view id);
  // kCount names, in number order; "" for numbers not given out yet. Thread-safe.
  std::vector<std::string> Names() const;

  // The table the running proxy uses (see the header comment for why it is one).
  static RuleLabels& Global();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint16_t, std::less<>> ids_;
  uint16_t next_ = kFirstId;
};

}  // namespace moat::policy
