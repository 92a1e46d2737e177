// The index behind AclPolicy: rule filters in a trie over topic levels, so a decision
// costs O(topic levels + matching rules), never O(rules).
//
// One RuleTrie holds many roots (one per user, one for anonymous clients, one for rules
// that apply to everyone) in shared arrays. An edge is a literal level, '+', or a
// template level holding %u / %c ("%u", "dev-%c"). A rule ends at a node either exactly
// (kEnd: "a/b") or with '#' (kHash: "a/b/#" hangs on node "a/b", which is what makes it
// match the parent "a/b" too).
//
// A template edge is an "equals the identity" matcher, never text substitution: the level
// must equal the template with the identity put in, compared byte by byte. An identity
// that could not be one literal level (empty, or holding '/', '+' or '#') never passes a
// template edge, so it gains no wildcard power and no extra levels (the CVE-2017-7650
// class). A deny rule must not be dodged that way either, so each deny rule with a
// template also sits, as kUnsafe*, on the node where its first template edge starts: for a
// client whose identity is unsafe it denies everything below that node (a superset of what
// mosquitto's text substitution would deny).
//
// Build with AddRoot()/Insert(), then Finalize() once: it packs each node, its rule
// references and its child edges into one record, records in depth-first order, so one
// user's rules are one short stretch of memory (fetched at once when a walk starts: with
// 100,000 users, a decision usually starts on a cold cache). After Finalize() the trie is
// read-only and safe to query from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "policy/acl/topic_match.h"

namespace moat::policy {

// Which identities a template level or a rule uses.
inline constexpr uint8_t kUsesUsername = 1;
inline constexpr uint8_t kUsesClientId = 2;

// Stable storage for strings: views into it stay valid for the arena's life.
class StringArena {
 public:
  std::string_view Copy(std::string_view text);

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t used_ = 0;
  size_t capacity_ = 0;
};

// What a walk knows about the client: the identities templates compare against.
struct TrieQuery {
  TrieQuery(const Levels& levels, uint8_t action, std::string_view username,
            std::string_view client_id);

  const Levels& levels;  // the topic or (inner) filter, split
  uint8_t action;        // only rules whose actions include it are reported
  std::string_view username;
  std::string_view client_id;
  bool username_safe;  // usable as one literal level: non-empty, no '/', '+', '#'
  bool client_id_safe;
};

// How a rule sits in the trie. The walks filter on `actions` themselves, and a sink can
// decide a `plain` rule (no conditions, no limits) without looking the rule up.
struct TrieRule {
  uint32_t index = 0;
  bool deny = false;
  uint8_t actions = 0;  // a 2-bit mask, matched against TrieQuery::action
  bool plain = true;
  uint16_t label = 0;  // opaque, handed back with every hit (AclPolicy: its metric label)
  uint64_t tag = 0;    // opaque, handed back with every hit (AclPolicy: where its name is)
};

// Receives the rules a walk finds, with their effect.
class RuleSink {
 public:
  virtual void Found(uint32_t rule, bool deny, bool plain, uint16_t label, uint64_t tag) = 0;

 protected:
  ~RuleSink() = default;
};

// Receives the allow rules an OverlapFilter() walk finds, each with `shared`: the filter of
// the topics the rule and the request both match (the request's level where it is literal,
// the rule's where the request holds a wildcard). Returning false ends the walk.
class OverlapSink {
 public:
  virtual bool Found(uint32_t rule, bool plain, uint16_t label, uint64_t tag,
                     const Levels& shared) = 0;

 protected:
  ~OverlapSink() = default;
};

class RuleTrie {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;

  // Where one root's records lie in the finalized trie. A caller that keeps it (per
  // connection) starts a walk without reading the trie's root table, one cache miss less.
  struct Span {
    uint32_t begin = 0;
    uint32_t end = 0;
    uint64_t Pack() const { return uint64_t{begin} << 32 | end; }
    static Span Unpack(uint64_t packed) {
      return {static_cast<uint32_t>(packed >> 32), static_cast<uint32_t>(packed)};
    }
  };

  RuleTrie() = default;
  // big_index_ holds views into texts_, which a move could relocate (small strings).
  RuleTrie(const RuleTrie&) = delete;
  RuleTrie& operator=(const RuleTrie&) = delete;

  // ---- building -----------------------------------------------------------------------
  // A new empty root; returns its index for Insert() and the queries.
  uint32_t AddRoot();
  // `filter` passes RuleFilterProblem() (so the trie is at most 201 levels deep). With
  // `placeholders`, "%u" and "%c" inside a level make it a template level; otherwise they
  // are plain text.
  void Insert(uint32_t root, std::string_view filter, bool placeholders, const TrieRule& rule);
  // Which identities `filter` uses as placeholders (0 for none).
  static uint8_t PlaceholdersIn(std::string_view filter);
  void Finalize();

  // ---- querying (after Finalize) --------------------------------------------------------
  Span RootSpan(uint32_t root) const { return {roots_[root], root_ends_[root]}; }
  // Rules granting or denying `query.action` whose filter matches the topic name in
  // `query.levels`.
  void MatchTopic(Span root, const TrieQuery& query, RuleSink& sink) const;
  // Allow rules whose filter covers the filter in `query.levels` (FilterCovers).
  void CoverFilter(Span root, const TrieQuery& query, RuleSink& sink) const;
  // Deny rules whose filter intersects the filter in `query.levels`.
  void IntersectFilter(Span root, const TrieQuery& query, RuleSink& sink) const;
  // Deny rules whose filter covers the filter in `query.levels`: each withholds all of it
  // (a deny with a placeholder this client cannot fill withholds everything below it).
  void CoverFilterByDeny(Span root, const TrieQuery& query, RuleSink& sink) const;
  // Allow rules whose filter shares a topic with the filter in `query.levels`, each with
  // what they share. False when the sink ended the walk.
  bool OverlapFilter(Span root, const TrieQuery& query, OverlapSink& sink) const;

  size_t node_count() const { return node_count_; }

 private:
  enum RefKind : uint8_t {
    kEndAllow,
    kEndDeny,
    kHashAllow,
    kHashDeny,
    kUnsafeDenyU,   // the rule uses %u only
    kUnsafeDenyC,   // %c only
    kUnsafeDenyUC,  // both
  };
  // A rule reference: the rule index in the low 32 bits, then kind (3 bits), actions
  // (2 bits), plain (1 bit), and the label in bits 40-55.
  static uint64_t Ref(const TrieRule& rule, RefKind kind) {
    return uint64_t{rule.index} | uint64_t{kind} << 32 | uint64_t{rule.actions & 3u} << 35 |
           uint64_t{rule.plain} << 37 | uint64_t{rule.label} << 40;
  }

  struct Piece {
    std::string text;   // literal text, when which == 0
    uint8_t which = 0;  // kUsesUsername or kUsesClientId for a placeholder
  };
  struct Template {
    std::vector<Piece> pieces;
    uint8_t uses = 0;
    uint32_t node = kNil;
  };
  struct ChildKey {
    uint32_t parent;
    std::string_view level;
    bool operator==(const ChildKey& other) const {
      return parent == other.parent && level == other.level;
    }
    template <typename H>
    friend H AbslHashValue(H h, const ChildKey& key) {
      return H::combine(std::move(h), key.parent,
                        absl::string_view(key.level.data(), key.level.size()));
    }
  };
  // Nodes with more literal children than this get a hash index; fewer are scanned.
  static constexpr uint32_t kScanLimit = 8;

  // ---- the finalized layout -----------------------------------------------------------
  // Every node is one record in words_, records in depth-first preorder, so a walk down
  // one user's rules reads a short stretch of memory:
  //   header   kChildCount, kRefCount, kPlus (record offset or kNil), kFlags, kTemplates
  //   refs     kRefCount x 4 words: Ref(), then the rule's tag
  //   children kChildCount x 5 words: record offset, size, text offset into texts_, and the
  //            level's first 8 bytes, so a short level compares without reading texts_
  static constexpr uint32_t kChildCount = 0;
  static constexpr uint32_t kRefCount = 1;
  static constexpr uint32_t kPlus = 2;
  static constexpr uint32_t kFlags = 3;      // kDenyBelow | template count << 8
  static constexpr uint32_t kTemplates = 4;  // first template in templates_
  static constexpr uint32_t kHeaderWords = 5;
  static constexpr uint32_t kChildWords = 5;
  static constexpr uint32_t kRefWords = 4;
  static constexpr uint32_t kDenyBelow = 1;  // a deny reference on this node or below
  static uint64_t Prefix(std::string_view level);

  // Build-time shape: singly linked lists in flat arrays, replaced in Finalize().
  struct BuildNode {
    uint32_t plus = kNil;
    uint32_t first_edge = kNil;  // into build_edges_
    uint32_t first_ref = kNil;   // into build_refs_
  };
  struct BuildEdge {
    std::string_view level;  // a template's text starts with a NUL (no filter holds one)
    uint32_t child;
    uint32_t next;
  };
  struct BuildRef {
    uint64_t ref;
    uint64_t tag;
    uint32_t next;
  };

  class Walk;

  uint32_t NewBuildNode();
  uint32_t BuildChild(uint32_t parent, std::string_view level, bool is_template);
  void AddRef(uint32_t node, uint64_t ref, uint64_t tag);
  static Template ParseTemplate(std::string_view level);
  uint32_t FindChild(uint32_t node, std::string_view level) const;

  // Starts the loads of a root's first records, all at once: a walk follows offsets from
  // record to record, and on a cold cache each hop would wait for the one before.
  void Prefetch(Span root) const;

  std::vector<uint32_t> roots_;      // build node ids until Finalize(), then record offsets
  std::vector<uint32_t> root_ends_;  // where each root's records end in words_
  std::vector<BuildNode> build_nodes_;
  std::vector<BuildEdge> build_edges_;
  std::vector<BuildRef> build_refs_;
  absl::flat_hash_map<ChildKey, uint32_t> build_index_;
  StringArena build_text_;

  std::vector<uint32_t> words_;
  std::string texts_;
  std::vector<Template> templates_;
  absl::flat_hash_map<ChildKey, uint32_t> big_index_;  // children of nodes past kScanLimit
  size_t node_count_ = 0;
};

}  // namespace moat::policy
