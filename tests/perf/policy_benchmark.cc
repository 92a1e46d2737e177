// Cost of an ACL decision with a large policy: 100,000 users with 10 acl_file lines each
// (1,000,000 rules) plus pattern lines, generated in memory. Every PUBLISH, Will,
// SUBSCRIBE filter and delivery asks the policy once, so checks per second per core is
// the number that matters; load time and resident memory matter for SIGHUP reloads.
//
// Before the benchmarks run, main() prints the load time (parse + index), the resident
// memory the loaded policy holds (RSS delta, temporaries freed) and the trie's size.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-bench --target policy_benchmark && build-bench/tests/perf/policy_benchmark
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "policy/acl/acl_file.h"
#include "policy/acl/acl_policy.h"
#include "policy/acl/huge_pages.h"
#include "proxy/enforcer.h"
#include "proxy/mqtt/decoder.h"
#include "proxy/mqtt/encoder.h"

namespace moat::policy {
namespace {

constexpr int kUsers = 100'000;
constexpr int kTenants = 1'000;
constexpr int kHotUsers = 1'000;
constexpr int kQueries = 1 << 16;

// The acl_file: ten lines per user (a grant with a deny inside it, broadcast and
// per-device topics, wildcards in several places), then two pattern lines for everyone.
std::string MakeAcl() {
  std::string text;
  text.reserve(static_cast<size_t>(kUsers) * 460);
  for (int u = 0; u < kUsers; ++u) {
    const int t = u % kTenants;
    absl::StrAppend(&text, "user u", u, "\n",                                  //
                    "topic readwrite tenants/t", t, "/users/u", u, "/#\n",     //
                    "topic deny tenants/t", t, "/users/u", u, "/private/#\n",  //
                    "topic read tenants/t", t, "/broadcast/+\n",               //
                    "topic write tenants/t", t, "/devices/d", u, "/cmd\n",     //
                    "topic read tenants/t", t, "/devices/d", u, "/+/state\n",  //
                    "topic read alerts/+/u", u, "\n",                          //
                    "topic readwrite sessions/u", u, "/inbox\n",               //
                    "topic read tenants/t", t, "/users/+/presence\n",          //
                    "topic write metrics/u", u, "/+\n",                        //
                    "topic read config/u", u, "/#\n");
  }
  absl::StrAppend(&text, "pattern readwrite clients/%c/#\n", "pattern read users/%u/notify\n");
  return text;
}

long ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

struct Loaded {
  std::shared_ptr<const AclPolicy> policy;
  double parse_seconds = 0;
  double index_seconds = 0;
  long resident_bytes = 0;
};

Loaded& Policy() {
  static Loaded* const loaded = [] {
    auto* out = new Loaded;
    malloc_trim(0);
    const long before = ResidentBytes();
    {
      std::string text = MakeAcl();
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<AclFile> file = ParseAclFile(text, "/etc/moat/acl");
      const auto parsed = std::chrono::steady_clock::now();
      if (!file.ok()) std::abort();
      AclPolicy::Builder builder;
      AddAclFile(*file, builder);
      out->policy = std::move(builder).Build(1);
      const auto built = std::chrono::steady_clock::now();
      out->parse_seconds = std::chrono::duration<double>(parsed - start).count();
      out->index_seconds = std::chrono::duration<double>(built - parsed).count();
    }
    malloc_trim(0);
    out->resident_bytes = ResidentBytes() - before;
    return out;
  }();
  return *loaded;
}

struct Query {
  ClientIdentity client;
  std::string topic;
};

// `users` distinct users picked uniformly; `make` gives the topic for user u, tenant t.
template <typename Make>
std::vector<Query> Queries(int users, Make make) {
  std::mt19937 random(42);
  std::vector<Query> queries(kQueries);
  for (Query& q : queries) {
    const int u = static_cast<int>(random() % static_cast<unsigned>(users));
    q.client.username = absl::StrCat("u", u);
    q.client.client_id = absl::StrCat("client-", u);
    q.topic = make(u, u % kTenants, random);
  }
  return queries;
}

// The queries of one benchmark for state.range(0) distinct users, made once.
template <typename Make>
const std::vector<Query>& Cached(benchmark::State& state, Make make) {
  static std::map<int64_t, std::vector<Query>> cache;
  const int users = static_cast<int>(state.range(0));
  auto it = cache.find(users);
  if (it == cache.end()) it = cache.emplace(users, Queries(users, make)).first;
  return it->second;
}

template <typename Ask>
void Run(benchmark::State& state, const std::vector<Query>& queries, bool expect, Ask ask) {
  const AclPolicy& policy = *Policy().policy;
  size_t i = 0;
  size_t wrong = 0;
  for (auto _ : state) {
    const Query& q = queries[i++ & (kQueries - 1)];
    const Decision d = ask(policy, q);
    wrong += d.allowed() != expect;
    benchmark::DoNotOptimize(d);
  }
  if (wrong != 0) state.SkipWithError("a decision differed from the expected verdict");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

auto Publish = [](const AclPolicy& p, const Query& q) {
  return p.MayPublish(q.client, q.topic, 1, false);
};
auto Receive = [](const AclPolicy& p, const Query& q) { return p.MayReceive(q.client, q.topic); };
auto Subscribe = [](const AclPolicy& p, const Query& q) {
  return p.MaySubscribe(q.client, q.topic, 1);
};

// Each benchmark runs twice: with questions spread uniformly over all 100,000 users (/100000:
// nearly every decision starts on a cold cache, as after a reconnect storm) and over 1,000
// active users (/1000: their rules stay in cache, as for a busy subset of a fleet).
void BM_PublishAllowed(benchmark::State& state) {
  const auto& queries = Cached(state, [](int u, int t, std::mt19937& r) {
    return absl::StrCat("tenants/t", t, "/users/u", u, "/data/", r() % 100);
  });
  Run(state, queries, true, Publish);
}
BENCHMARK(BM_PublishAllowed)->Arg(kUsers)->Arg(kHotUsers);

// The same questions, each asked as a connection's first: the user's rules are found by
// name, as after CONNECT or a reload (later questions reuse ClientIdentity::memo).
void BM_PublishAllowedFirstQuestion(benchmark::State& state) {
  const auto& queries = Cached(state, [](int u, int t, std::mt19937& r) {
    return absl::StrCat("tenants/t", t, "/users/u", u, "/data/", r() % 100);
  });
  Run(state, queries, true, [](const AclPolicy& p, const Query& q) {
    q.client.memo = {};
    return Publish(p, q);
  });
}
BENCHMARK(BM_PublishAllowedFirstQuestion)->Arg(kUsers)->Arg(kHotUsers);

void BM_ReceiveDeniedInsideGrant(benchmark::State& state) {
  const auto& queries = Cached(state, [](int u, int t, std::mt19937&) {
    return absl::StrCat("tenants/t", t, "/users/u", u, "/private/key");
  });
  Run(state, queries, false, Receive);
}
BENCHMARK(BM_ReceiveDeniedInsideGrant)->Arg(kUsers)->Arg(kHotUsers);

void BM_ReceiveWildcardGrant(benchmark::State& state) {
  const auto& queries = Cached(state, [](int u, int t, std::mt19937&) {
    return absl::StrCat("tenants/t", t, "/devices/d", u, "/temp/state");
  });
  Run(state, queries, true, Receive);
}
BENCHMARK(BM_ReceiveWildcardGrant)->Arg(kUsers)->Arg(kHotUsers);

void BM_PublishNoRule(benchmark::State& state) {
  const auto& queries = Cached(state, [](int, int t, std::mt19937&) {
    return absl::StrCat("tenants/t", t, "/elsewhere/x");
  });
  Run(state, queries, false, Publish);
}
BENCHMARK(BM_PublishNoRule)->Arg(kUsers)->Arg(kHotUsers);

void BM_PublishPatternGrant(benchmark::State& state) {
  const auto& queries = Cached(
      state, [](int u, int, std::mt19937&) { return absl::StrCat("clients/client-", u, "/up"); });
  Run(state, queries, true, Publish);
}
BENCHMARK(BM_PublishPatternGrant)->Arg(kUsers)->Arg(kHotUsers);

void BM_SubscribeAllowed(benchmark::State& state) {
  const auto& queries =
      Cached(state, [](int u, int, std::mt19937&) { return absl::StrCat("config/u", u, "/+/#"); });
  Run(state, queries, true, Subscribe);
}
BENCHMARK(BM_SubscribeAllowed)->Arg(kUsers)->Arg(kHotUsers);

// "…/users/uN/#" holds the deny "…/private/#": the deny pass finds it inside the filter.
void BM_SubscribeDeniedDenyInside(benchmark::State& state) {
  const auto& queries = Cached(state, [](int u, int t, std::mt19937&) {
    return absl::StrCat("tenants/t", t, "/users/u", u, "/#");
  });
  Run(state, queries, false, Subscribe);
}
BENCHMARK(BM_SubscribeDeniedDenyInside)->Arg(kUsers)->Arg(kHotUsers);

// ---- one SUBSCRIBE at the default limits, built to be as slow as it can be ----------
// limits.max_filters_per_subscribe bounds what one packet costs the I/O thread to that many
// filter decisions; this measures the worst of them. Each of the 1,000 filters is 1,024
// bytes of 128 levels (limits.max_topic_length, max_topic_levels): a long literal first
// level, then 126 '+' and a '#', so it shares topics with every rule under that level. The
// rules make the any_readable grant weigh each of them: every read rule has a QoS limit
// (the walk does not stop at the first grant), each has a deny inside it in audit mode
// (so the grant is walked twice, the second time counting audit denies) and every grant is
// checked for a deny covering what it shares. The cost grows with the rules that apply to
// the client: state.range(0) of them, all in the everyone root, as `everyone: true` native
// rules are; the 100,000-user acl_file above gives each user 12.
constexpr int kFilters = 1'000;
constexpr size_t kFilterBytes = 1'024;
constexpr int kFilterLevels = 128;

std::string HeavyLevel() {
  // The first level takes what the 127 wildcard levels and their separators leave.
  return std::string(kFilterBytes - 2 * (kFilterLevels - 1), 'p');
}

std::shared_ptr<const AclPolicy> HeavyPolicy(int rules) {
  AclPolicy::Builder builder;
  const std::string level = HeavyLevel();
  for (int i = 0; i < rules; ++i) {
    const std::string base = absl::StrCat(level, "/a", i % 10, "/+/b", i);
    RuleSpec read;
    read.source = absl::StrCat("read-", i);
    read.actions = kActionRead;
    read.max_qos = 1;
    read.everyone = true;
    read.filters = {absl::StrCat(base, "/#")};
    builder.Add(read);
    RuleSpec deny;
    deny.source = absl::StrCat("audit-deny-", i);
    deny.deny = true;
    deny.audit = true;
    deny.actions = kActionRead;
    deny.everyone = true;
    deny.filters = {absl::StrCat(base, "/secret/#")};
    builder.Add(deny);
  }
  return std::move(builder).Build(1);
}

std::vector<uint8_t> HeavySubscribeBytes() {
  std::string filter = HeavyLevel();
  for (int l = 1; l < kFilterLevels - 1; ++l) filter += "/+";
  filter += "/#";
  if (filter.size() != kFilterBytes) std::abort();
  mqtt::Subscribe subscribe;
  subscribe.packet_id = 1;
  for (int f = 0; f < kFilters; ++f) subscribe.subscriptions.push_back({filter, 2});
  std::vector<uint8_t> bytes;
  if (mqtt::Encode(subscribe, mqtt::ProtocolVersion::kV311, bytes) != mqtt::EncodeError::kNone) {
    std::abort();
  }
  return bytes;
}

// One iteration is one SUBSCRIBE decoded and judged by a new session's Enforcer, as the
// relay does it: the time the worker spends on it before it reads anything else.
void BM_SubscribeWorstCase(benchmark::State& state) {
  const std::shared_ptr<const AclPolicy> policy = HeavyPolicy(static_cast<int>(state.range(0)));
  const std::vector<uint8_t> bytes = HeavySubscribeBytes();
  ClientIdentity identity;
  identity.username = "heavy";
  identity.client_id = "heavy-1";
  mqtt::Connect connect;
  connect.version = mqtt::ProtocolVersion::kV311;
  benchmark::IterationCount granted = 0;
  for (auto _ : state) {
    proxy::Enforcer enforcer(identity, connect, config::DeniedPublish::kDrop);
    auto frame =
        mqtt::DecodeOne(bytes, mqtt::Direction::kClientToServer, mqtt::ProtocolVersion::kV311);
    const proxy::Outcome outcome = enforcer.FromClient(std::get<mqtt::Frame>(frame), *policy);
    // Granted whole at the rules' QoS 1 (so rewritten), each filter partly withheld: the
    // audit deny inside was found, so the grant was walked the second time too.
    granted += !outcome.forward_rewritten.empty() && outcome.denials.empty() &&
               outcome.partial_subscriptions == kFilters;
    benchmark::DoNotOptimize(outcome);
  }
  if (granted != state.iterations()) state.SkipWithError("the SUBSCRIBE went another way");
  state.counters["filters/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kFilters, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SubscribeWorstCase)->Arg(12)->Arg(100)->Arg(1'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moat::policy

namespace {

// What one dependent load costs when it lands at random in `bytes` of memory: the floor
// under a decision whose user's rules are not in cache (every decision of the /100000
// runs needs at least one such load). On this VM it is 140-360 ns depending on the size.
double RandomLoadNanoseconds(size_t bytes) {
  const size_t lines = std::max<size_t>(bytes / 64, 2);
  std::vector<size_t> order(lines);
  for (size_t i = 0; i < lines; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  std::vector<std::array<size_t, 8>> memory(lines);
  moat::policy::AdviseHugePages(memory.data(), lines * 64);
  for (size_t i = 0; i < lines; ++i) memory[order[i]][0] = order[(i + 1) % lines];
  constexpr size_t kSteps = 2'000'000;
  size_t at = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < kSteps; ++i) at = memory[at][0];
  const auto end = std::chrono::steady_clock::now();
  benchmark::DoNotOptimize(at);
  return std::chrono::duration<double, std::nano>(end - start).count() / kSteps;
}

}  // namespace

int main(int argc, char** argv) {
  const moat::policy::Loaded& loaded = moat::policy::Policy();
  std::printf(
      "policy: %zu rules, %d users, %zu trie nodes; parse %.2f s, index %.2f s; "
      "resident %.1f MiB (%.0f bytes/rule)\n",
      loaded.policy->rule_count(), moat::policy::kUsers, loaded.policy->node_count(),
      loaded.parse_seconds, loaded.index_seconds, loaded.resident_bytes / 1048576.0,
      static_cast<double>(loaded.resident_bytes) /
          static_cast<double>(loaded.policy->rule_count()));
  const double load_ns = RandomLoadNanoseconds(static_cast<size_t>(loaded.resident_bytes));
  std::printf(
      "memory: one random load into %.0f MiB costs %.0f ns here, so a decision that must "
      "fetch an uncached user's rules runs at most %.2f M/s\n",
      loaded.resident_bytes / 1048576.0, load_ns, 1e3 / load_ns);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
