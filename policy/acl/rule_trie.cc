#include "policy/acl/rule_trie.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <utility>

#include "policy/acl/huge_pages.h"

namespace moat::policy {
namespace {

constexpr size_t kArenaBlock = 64 * 1024;

bool SafeIdentity(std::string_view identity) {
  if (identity.empty()) return false;
  for (const char c : identity) {
    if (c == '/' || c == '+' || c == '#') return false;
  }
  return true;
}

bool StartsWithDollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

}  // namespace

std::string_view StringArena::Copy(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() > capacity_ - used_) {
    const size_t size = std::max(kArenaBlock, text.size());
    blocks_.push_back(std::make_unique<char[]>(size));
    used_ = 0;
    capacity_ = size;
  }
  char* at = blocks_.back().get() + used_;
  std::memcpy(at, text.data(), text.size());
  used_ += text.size();
  return {at, text.size()};
}

TrieQuery::TrieQuery(const Levels& levels_in, uint8_t action_in, std::string_view username_in,
                     std::string_view client_id_in)
    : levels(levels_in),
      action(action_in),
      username(username_in),
      client_id(client_id_in),
      username_safe(SafeIdentity(username_in)),
      client_id_safe(SafeIdentity(client_id_in)) {}

// ---- building ---------------------------------------------------------------------------

uint8_t RuleTrie::PlaceholdersIn(std::string_view filter) {
  uint8_t uses = 0;
  // Left to right, as mosquitto substitutes: "%%u" is '%' followed by the username.
  for (size_t i = 0; i + 1 < filter.size(); ++i) {
    if (filter[i] != '%') continue;
    if (filter[i + 1] == 'u') {
      uses |= kUsesUsername;
      ++i;
    } else if (filter[i + 1] == 'c') {
      uses |= kUsesClientId;
      ++i;
    }
  }
  return uses;
}

RuleTrie::Template RuleTrie::ParseTemplate(std::string_view level) {
  Template t;
  std::string literal;
  for (size_t i = 0; i < level.size(); ++i) {
    const bool placeholder =
        level[i] == '%' && i + 1 < level.size() && (level[i + 1] == 'u' || level[i + 1] == 'c');
    if (!placeholder) {
      literal.push_back(level[i]);
      continue;
    }
    if (!literal.empty()) t.pieces.push_back({std::move(literal), 0});
    literal.clear();
    const uint8_t which = level[i + 1] == 'u' ? kUsesUsername : kUsesClientId;
    t.pieces.push_back({"", which});
    t.uses |= which;
    ++i;
  }
  if (!literal.empty()) t.pieces.push_back({std::move(literal), 0});
  return t;
}

uint32_t RuleTrie::AddRoot() {
  roots_.push_back(NewBuildNode());
  return static_cast<uint32_t>(roots_.size() - 1);
}

uint32_t RuleTrie::NewBuildNode() {
  build_nodes_.emplace_back();
  return static_cast<uint32_t>(build_nodes_.size() - 1);
}

uint32_t RuleTrie::BuildChild(uint32_t parent, std::string_view level, bool is_template) {
  std::string key_text;
  if (is_template) {
    key_text.reserve(level.size() + 1);
    key_text.push_back('\0');
    key_text.append(level);
    level = key_text;
  }
  if (auto it = build_index_.find(ChildKey{parent, level}); it != build_index_.end()) {
    return it->second;
  }
  const std::string_view stored = build_text_.Copy(level);
  const uint32_t child = NewBuildNode();
  build_edges_.push_back({stored, child, build_nodes_[parent].first_edge});
  build_nodes_[parent].first_edge = static_cast<uint32_t>(build_edges_.size() - 1);
  build_index_.emplace(ChildKey{parent, stored}, child);
  return child;
}

void RuleTrie::AddRef(uint32_t node, uint64_t ref, uint64_t tag) {
  build_refs_.push_back({ref, tag, build_nodes_[node].first_ref});
  build_nodes_[node].first_ref = static_cast<uint32_t>(build_refs_.size() - 1);
}

void RuleTrie::Insert(uint32_t root, std::string_view filter, bool placeholders,
                      const TrieRule& rule) {
  const uint8_t uses = placeholders ? PlaceholdersIn(filter) : 0;
  uint32_t node = roots_[root];
  bool unsafe_placed = false;
  for (std::string_view level : SplitLevels(filter)) {
    if (level == "#") {
      AddRef(node, Ref(rule, rule.deny ? kHashDeny : kHashAllow), rule.tag);
      return;
    }
    if (level == "+") {
      if (build_nodes_[node].plus == kNil) {
        const uint32_t plus = NewBuildNode();
        build_nodes_[node].plus = plus;
      }
      node = build_nodes_[node].plus;
      continue;
    }
    const bool is_template = uses != 0 && PlaceholdersIn(level) != 0;
    if (is_template && rule.deny && !unsafe_placed) {
      const RefKind kind = uses == kUsesUsername   ? kUnsafeDenyU
                           : uses == kUsesClientId ? kUnsafeDenyC
                                                   : kUnsafeDenyUC;
      AddRef(node, Ref(rule, kind), rule.tag);
      unsafe_placed = true;
    }
    node = BuildChild(node, level, is_template);
  }
  AddRef(node, Ref(rule, rule.deny ? kEndDeny : kEndAllow), rule.tag);
}

void RuleTrie::Finalize() {
  // Pass 1: number the nodes in depth-first preorder, root by root, and give each its
  // record offset (records differ in size by their references and children).
  std::vector<uint32_t> order;
  order.reserve(build_nodes_.size());
  std::vector<uint32_t> offset(build_nodes_.size(), kNil);
  std::vector<uint32_t> stack;
  size_t words = 0;
  size_t text_size = 0;
  for (uint32_t& root : roots_) {
    stack.push_back(root);
    while (!stack.empty()) {
      const uint32_t node = stack.back();
      stack.pop_back();
      order.push_back(node);
      offset[node] = static_cast<uint32_t>(words);
      const BuildNode& b = build_nodes_[node];
      words += kHeaderWords;
      for (uint32_t r = b.first_ref; r != kNil; r = build_refs_[r].next) words += kRefWords;
      if (b.plus != kNil) stack.push_back(b.plus);
      for (uint32_t e = b.first_edge; e != kNil; e = build_edges_[e].next) {
        stack.push_back(build_edges_[e].child);
        const std::string_view level = build_edges_[e].level;
        if (level.empty() || level[0] != '\0') {
          words += kChildWords;
          text_size += level.size();
        }
      }
    }
    root = offset[root];
    root_ends_.push_back(static_cast<uint32_t>(words));
  }
  // Offsets are 32-bit word and byte counts: a policy of over 16 GiB of trie (or 4 GiB of
  // level text) is not something a broker's ACL file becomes.
  if (words >= kNil || text_size >= kNil) std::abort();

  // Pass 2: write the records.
  words_.reserve(words);
  AdviseHugePages(words_.data(), words * sizeof(uint32_t));
  words_.assign(words, 0);
  texts_.reserve(text_size);
  node_count_ = order.size();
  for (const uint32_t node : order) {
    const BuildNode& b = build_nodes_[node];
    uint32_t* w = words_.data() + offset[node];
    w[kPlus] = b.plus == kNil ? kNil : offset[b.plus];
    w[kTemplates] = static_cast<uint32_t>(templates_.size());
    uint32_t* at = w + kHeaderWords;
    for (uint32_t r = b.first_ref; r != kNil; r = build_refs_[r].next) {
      const uint64_t ref = build_refs_[r].ref;
      std::memcpy(at, &ref, sizeof ref);
      std::memcpy(at + 2, &build_refs_[r].tag, sizeof(uint64_t));
      at += kRefWords;
      ++w[kRefCount];
      const auto kind = static_cast<RefKind>(ref >> 32 & 7);
      if (kind != kEndAllow && kind != kHashAllow) w[kFlags] |= kDenyBelow;
    }
    uint32_t templates = 0;
    for (uint32_t e = b.first_edge; e != kNil; e = build_edges_[e].next) {
      const BuildEdge& edge = build_edges_[e];
      if (!edge.level.empty() && edge.level[0] == '\0') {
        Template t = ParseTemplate(edge.level.substr(1));
        t.node = offset[edge.child];
        templates_.push_back(std::move(t));
        ++templates;
        continue;
      }
      const uint64_t prefix = Prefix(edge.level);
      at[0] = offset[edge.child];
      at[1] = static_cast<uint32_t>(edge.level.size());
      at[2] = static_cast<uint32_t>(texts_.size());
      std::memcpy(at + 3, &prefix, sizeof prefix);
      texts_.append(edge.level);
      at += kChildWords;
      ++w[kChildCount];
    }
    w[kFlags] |= templates << 8;
  }
  // Indexes for wide nodes, now that texts_ no longer moves.
  for (const uint32_t node : order) {
    const uint32_t* w = words_.data() + offset[node];
    if (w[kChildCount] <= kScanLimit) continue;
    const uint32_t* child = w + kHeaderWords + kRefWords * w[kRefCount];
    for (uint32_t c = 0; c < w[kChildCount]; ++c, child += kChildWords) {
      big_index_.emplace(
          ChildKey{offset[node], std::string_view(texts_).substr(child[2], child[1])}, child[0]);
    }
  }
  // Children come after their parent in preorder, so one backward sweep spreads
  // kDenyBelow up to every ancestor.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    uint32_t* w = words_.data() + offset[*it];
    uint32_t below = w[kFlags] & kDenyBelow;
    if (w[kPlus] != kNil) below |= words_[w[kPlus] + kFlags] & kDenyBelow;
    const uint32_t* child = w + kHeaderWords + kRefWords * w[kRefCount];
    for (uint32_t c = 0; c < w[kChildCount]; ++c, child += kChildWords) {
      below |= words_[child[0] + kFlags] & kDenyBelow;
    }
    for (uint32_t t = 0; t < (w[kFlags] >> 8); ++t) {
      below |= words_[templates_[w[kTemplates] + t].node + kFlags] & kDenyBelow;
    }
    w[kFlags] |= below;
  }

  build_nodes_ = {};
  build_edges_ = {};
  build_refs_ = {};
  build_index_ = {};
  build_text_ = {};
}

// ---- querying ---------------------------------------------------------------------------

uint64_t RuleTrie::Prefix(std::string_view level) {
  uint64_t prefix = 0;
  if (!level.empty()) std::memcpy(&prefix, level.data(), std::min<size_t>(level.size(), 8));
  return prefix;
}

uint32_t RuleTrie::FindChild(uint32_t node, std::string_view level) const {
  const uint32_t* w = words_.data() + node;
  const uint32_t count = w[kChildCount];
  if (count > kScanLimit) {
    const auto it = big_index_.find(ChildKey{node, level});
    return it == big_index_.end() ? kNil : it->second;
  }
  const uint64_t prefix = Prefix(level);
  const uint32_t* child = w + kHeaderWords + kRefWords * w[kRefCount];
  for (uint32_t c = 0; c < count; ++c, child += kChildWords) {
    uint64_t stored;
    std::memcpy(&stored, child + 3, sizeof stored);
    if (stored == prefix && child[1] == level.size() &&
        (level.size() <= 8 ||
         std::memcmp(texts_.data() + child[2] + 8, level.data() + 8, level.size() - 8) == 0)) {
      return child[0];
    }
  }
  return kNil;
}

class RuleTrie::Walk {
 public:
  Walk(const RuleTrie& trie, const TrieQuery& query, RuleSink* sink, bool cover_deny = false,
       OverlapSink* overlaps = nullptr)
      : t_(trie),
        q_(query),
        sink_(sink),
        overlaps_(overlaps),
        cover_deny_(cover_deny),
        size_(query.levels.size()) {}

  // Topic name against rule filters.
  void Match(uint32_t node, size_t i) {
    const uint32_t* w = t_.words_.data() + node;
    const bool guard = i == 0 && StartsWithDollar(q_.levels[0]);
    if (w[kRefCount] != 0) Refs(w, (guard ? 0 : kHash) | kUnsafe | (i == size_ ? kEnd : 0));
    if (i == size_) return;
    const std::string_view level = q_.levels[i];
    if (w[kChildCount] != 0) {
      if (const uint32_t child = t_.FindChild(node, level); child != kNil) Match(child, i + 1);
    }
    if (w[kPlus] != kNil && !guard) Match(w[kPlus], i + 1);
    ForMatchingTemplates(w, level, [&](uint32_t child) { Match(child, i + 1); });
  }

  // Requested filter against the allow (or, with cover_deny_, the deny) rule filters:
  // which cover it.
  void Cover(uint32_t node, size_t i) {
    const uint32_t* w = t_.words_.data() + node;
    if (cover_deny_ && !(w[kFlags] & kDenyBelow)) return;
    const std::string_view want = i < size_ ? q_.levels[i] : std::string_view();
    const bool guard = i == 0 && StartsWithDollar(want);
    if (w[kRefCount] != 0) {
      const unsigned hash = Bit(cover_deny_ ? kHashDeny : kHashAllow);
      const unsigned end = Bit(cover_deny_ ? kEndDeny : kEndAllow);
      Refs(w, (guard ? 0 : hash) | (i == size_ ? end : 0) | (cover_deny_ ? kUnsafe : 0));
    }
    if (i == size_ || want == "#") return;  // only a '#' rule covers a requested '#'
    if (want == "+") {                      // only '+' (or '#', above) covers '+'
      if (w[kPlus] != kNil) Cover(w[kPlus], i + 1);
      return;
    }
    if (w[kChildCount] != 0) {
      if (const uint32_t child = t_.FindChild(node, want); child != kNil) Cover(child, i + 1);
    }
    if (w[kPlus] != kNil && !guard) Cover(w[kPlus], i + 1);
    ForMatchingTemplates(w, want, [&](uint32_t child) { Cover(child, i + 1); });
  }

  // Requested filter against deny rule filters: which share a topic with it.
  void Intersect(uint32_t node, size_t i) {
    const uint32_t* w = t_.words_.data() + node;
    if (!(w[kFlags] & kDenyBelow)) return;
    const std::string_view want = i < size_ ? q_.levels[i] : std::string_view();
    const bool guard = i == 0 && StartsWithDollar(want);
    // A requested wildcard in the first level matches no '$' topic [MQTT-4.7.2-1].
    const bool skip_dollar = i == 0 && IsWildcardLevel(want);
    // "a/#" requested matches "a" too, so a rule ending here counts.
    const bool end = i == size_ || want == "#";
    Refs(w, (guard ? 0 : Bit(kHashDeny)) | kUnsafe | (end ? Bit(kEndDeny) : 0));
    if (i == size_) return;
    if (want == "#") return Below(w, skip_dollar, /*next=*/kNoLevel);
    if (want == "+") return Below(w, skip_dollar, i + 1);
    if (w[kChildCount] != 0) {
      if (const uint32_t child = t_.FindChild(node, want); child != kNil) Intersect(child, i + 1);
    }
    if (w[kPlus] != kNil && !guard) Intersect(w[kPlus], i + 1);
    ForMatchingTemplates(w, want, [&](uint32_t child) { Intersect(child, i + 1); });
  }

  // Requested filter against allow rule filters: which share a topic with it, and which
  // topics. `path_` holds the shared filter down to this node. False: the sink said stop.
  bool Overlap(uint32_t node, size_t i) {
    const uint32_t* w = t_.words_.data() + node;
    const std::string_view want = i < size_ ? q_.levels[i] : std::string_view();
    const bool guard = i == 0 && StartsWithDollar(want);
    if (w[kRefCount] != 0) {
      // "p/#" ending here shares the rest of the request (all of "p" when the request ends
      // here); "p" ending here shares "p" when the request ends here or goes on with '#'.
      if (!guard && !Shared(w, kHashAllow, i, /*hash=*/false)) return false;
      if ((i == size_ || want == "#") && !Shared(w, kEndAllow, size_, false)) return false;
    }
    if (i == size_) return true;
    const bool skip_dollar = i == 0 && IsWildcardLevel(want);
    if (want == "#") return OverlapBelow(w, skip_dollar, kNoLevel);
    if (want == "+") return OverlapBelow(w, skip_dollar, i + 1);
    if (w[kChildCount] != 0) {
      if (const uint32_t child = t_.FindChild(node, want); child != kNil) {
        if (!Descend(want, [&] { return Overlap(child, i + 1); })) return false;
      }
    }
    if (w[kPlus] != kNil && !guard) {
      if (!Descend(want, [&] { return Overlap(w[kPlus], i + 1); })) return false;
    }
    bool go_on = true;
    ForMatchingTemplates(w, want, [&](uint32_t child) {
      if (go_on) go_on = Descend(want, [&] { return Overlap(child, i + 1); });
    });
    return go_on;
  }

 private:
  static constexpr size_t kNoLevel = static_cast<size_t>(-1);

  template <typename Fn>
  bool Descend(std::string_view level, Fn&& fn) {
    path_.push_back(level);
    const bool go_on = fn();
    path_.pop_back();
    return go_on;
  }

  // Reports the allow references of `kind` on `w`: they share `path_`, then the request
  // from level `rest` on (none when rest == size_), then "#" if `hash`.
  bool Shared(const uint32_t* w, RefKind kind, size_t rest, bool hash) {
    const uint32_t* at = w + kHeaderWords;
    bool built = false;
    for (uint32_t r = 0; r < w[kRefCount]; ++r, at += kRefWords) {
      uint64_t ref;
      std::memcpy(&ref, at, sizeof ref);
      if (static_cast<RefKind>(ref >> 32 & 7) != kind || !(ref >> 35 & q_.action)) continue;
      if (!built) {
        shared_.assign(path_.begin(), path_.end());
        for (size_t l = rest; l < size_; ++l) shared_.push_back(q_.levels[l]);
        if (hash) shared_.push_back("#");
        built = true;
        // One empty level is the empty topic, which no PUBLISH may name [MQTT-4.7.3-1].
        if (shared_.size() == 1 && shared_[0].empty()) return true;
      }
      uint64_t tag;
      std::memcpy(&tag, at + 2, sizeof tag);
      if (!overlaps_->Found(static_cast<uint32_t>(ref), ref >> 37 & 1,
                            static_cast<uint16_t>(ref >> 40), tag, shared_)) {
        return false;
      }
    }
    return true;
  }

  // Every edge of `w` a requested wildcard level can take, each shared as the edge's own
  // level: into Overlap() at level `next`, or (for '#', next == kNoLevel) the whole subtree.
  bool OverlapBelow(const uint32_t* w, bool skip_dollar, size_t next) {
    auto visit = [&](uint32_t child) {
      return next == kNoLevel ? OverlapSubtree(child) : Overlap(child, next);
    };
    const uint32_t* child = w + kHeaderWords + kRefWords * w[kRefCount];
    for (uint32_t c = 0; c < w[kChildCount]; ++c, child += kChildWords) {
      const std::string_view text = std::string_view(t_.texts_).substr(child[2], child[1]);
      if (skip_dollar && StartsWithDollar(text)) continue;
      if (!Descend(text, [&] { return visit(child[0]); })) return false;
    }
    if (w[kPlus] != kNil && !Descend("+", [&] { return visit(w[kPlus]); })) return false;
    const uint32_t count = w[kFlags] >> 8;
    for (uint32_t k = 0; k < count; ++k) {
      const Template& t = t_.templates_[w[kTemplates] + k];
      if (!Usable(t) || (skip_dollar && TemplateStartsWithDollar(t))) continue;
      if (!Descend(Filled(t), [&] { return visit(t.node); })) return false;
    }
    return true;
  }

  // Below a requested '#': every allow rule shares its own topics.
  bool OverlapSubtree(uint32_t node) {
    const uint32_t* w = t_.words_.data() + node;
    if (w[kRefCount] != 0) {
      if (!Shared(w, kEndAllow, size_, false) || !Shared(w, kHashAllow, size_, true)) {
        return false;
      }
    }
    return OverlapBelow(w, /*skip_dollar=*/false, kNoLevel);
  }

  // A template level with this client's identities put in (kept until the walk ends).
  std::string_view Filled(const Template& t) {
    std::string& level = filled_.emplace_back();
    for (const Piece& piece : t.pieces)
      level += piece.which != 0 ? Identity(piece.which) : piece.text;
    return level;
  }

  static constexpr unsigned Bit(RefKind kind) { return 1u << kind; }
  static constexpr unsigned kEnd = 1u << kEndAllow | 1u << kEndDeny;
  static constexpr unsigned kHash = 1u << kHashAllow | 1u << kHashDeny;
  static constexpr unsigned kUnsafe = 1u << kUnsafeDenyU | 1u << kUnsafeDenyC | 1u << kUnsafeDenyUC;
  static constexpr unsigned kAllDeny = 1u << kEndDeny | 1u << kHashDeny | kUnsafe;

  void Refs(const uint32_t* w, unsigned mask) {
    const uint32_t* at = w + kHeaderWords;
    for (uint32_t r = 0; r < w[kRefCount]; ++r, at += kRefWords) {
      uint64_t ref;
      std::memcpy(&ref, at, sizeof ref);
      const auto kind = static_cast<RefKind>(ref >> 32 & 7);
      if (!(mask & Bit(kind)) || !(ref >> 35 & q_.action)) continue;
      if (kind >= kUnsafeDenyU && !UnsafeFires(kind)) continue;
      uint64_t tag;
      std::memcpy(&tag, at + 2, sizeof tag);
      sink_->Found(static_cast<uint32_t>(ref), kind != kEndAllow && kind != kHashAllow,
                   ref >> 37 & 1, static_cast<uint16_t>(ref >> 40), tag);
    }
  }

  // A deny rule whose placeholder this client's identity cannot fill as one literal level.
  // A rule using %u never applies to an anonymous client (as in mosquitto).
  bool UnsafeFires(RefKind kind) const {
    const bool uses_u = kind != kUnsafeDenyC;
    const bool uses_c = kind != kUnsafeDenyU;
    if (uses_u && q_.username.empty()) return false;
    return (uses_u && !q_.username_safe) || (uses_c && !q_.client_id_safe);
  }

  bool Usable(const Template& t) const {
    return (!(t.uses & kUsesUsername) || q_.username_safe) &&
           (!(t.uses & kUsesClientId) || q_.client_id_safe);
  }

  std::string_view Identity(uint8_t which) const {
    return which == kUsesUsername ? q_.username : q_.client_id;
  }

  // The level equals the template with the identities put in, byte for byte.
  bool TemplateMatches(const Template& t, std::string_view level) const {
    for (const Piece& piece : t.pieces) {
      const std::string_view text = piece.which != 0 ? Identity(piece.which) : piece.text;
      if (!level.starts_with(text)) return false;
      level.remove_prefix(text.size());
    }
    return level.empty();
  }

  bool TemplateStartsWithDollar(const Template& t) const {
    const Piece& first = t.pieces.front();
    return StartsWithDollar(first.which != 0 ? Identity(first.which) : first.text);
  }

  template <typename Fn>
  void ForMatchingTemplates(const uint32_t* w, std::string_view level, Fn&& fn) {
    const uint32_t count = w[kFlags] >> 8;
    for (uint32_t k = 0; k < count; ++k) {
      const Template& t = t_.templates_[w[kTemplates] + k];
      if (Usable(t) && TemplateMatches(t, level)) fn(t.node);
    }
  }

  // Every child of `w` a requested wildcard level can reach: into Intersect() at level
  // `next`, or (for '#', next == kNoLevel) into the whole subtree.
  void Below(const uint32_t* w, bool skip_dollar, size_t next) {
    auto visit = [&](uint32_t child) {
      if (!(t_.words_[child + kFlags] & kDenyBelow)) return;
      if (next == kNoLevel) {
        Subtree(child);
      } else {
        Intersect(child, next);
      }
    };
    const uint32_t* child = w + kHeaderWords + kRefWords * w[kRefCount];
    for (uint32_t c = 0; c < w[kChildCount]; ++c, child += kChildWords) {
      if (skip_dollar && child[1] != 0 && t_.texts_[child[2]] == '$') continue;
      visit(child[0]);
    }
    if (w[kPlus] != kNil) visit(w[kPlus]);
    const uint32_t count = w[kFlags] >> 8;
    for (uint32_t k = 0; k < count; ++k) {
      const Template& t = t_.templates_[w[kTemplates] + k];
      if (!Usable(t) || (skip_dollar && TemplateStartsWithDollar(t))) continue;
      visit(t.node);
    }
  }

  void Subtree(uint32_t node) {
    const uint32_t* w = t_.words_.data() + node;
    Refs(w, kAllDeny);
    Below(w, /*skip_dollar=*/false, kNoLevel);
  }

  const RuleTrie& t_;
  const TrieQuery& q_;
  RuleSink* const sink_;
  OverlapSink* const overlaps_;
  const bool cover_deny_;
  const size_t size_;
  Levels path_;                     // Overlap(): the shared filter so far
  Levels shared_;                   // Overlap(): what one reported rule shares
  std::deque<std::string> filled_;  // Overlap(): template levels, stable for path_
};

void RuleTrie::Prefetch(Span root) const {
  // One user's ten rules take about a kilobyte; 2 KiB bounds the work for big roots.
  constexpr uint32_t kMaxWords = 2048 / sizeof(uint32_t);
  constexpr uint32_t kLineWords = 64 / sizeof(uint32_t);
  const uint32_t end = std::min(root.end, root.begin + kMaxWords);
  for (uint32_t at = root.begin; at < end; at += kLineWords) {
    __builtin_prefetch(words_.data() + at);
  }
}

void RuleTrie::MatchTopic(Span root, const TrieQuery& query, RuleSink& sink) const {
  Prefetch(root);
  Walk(*this, query, &sink).Match(root.begin, 0);
}

void RuleTrie::CoverFilter(Span root, const TrieQuery& query, RuleSink& sink) const {
  Prefetch(root);
  Walk(*this, query, &sink).Cover(root.begin, 0);
}

void RuleTrie::IntersectFilter(Span root, const TrieQuery& query, RuleSink& sink) const {
  Prefetch(root);
  Walk(*this, query, &sink).Intersect(root.begin, 0);
}

void RuleTrie::CoverFilterByDeny(Span root, const TrieQuery& query, RuleSink& sink) const {
  Walk(*this, query, &sink, /*cover_deny=*/true).Cover(root.begin, 0);
}

bool RuleTrie::OverlapFilter(Span root, const TrieQuery& query, OverlapSink& sink) const {
  Prefetch(root);
  return Walk(*this, query, nullptr, false, &sink).Overlap(root.begin, 0);
}

}  // namespace moat::policy
