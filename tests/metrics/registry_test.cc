#include "metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "metrics/exposition.h"
#include "tests/metrics/scrape_util.h"

namespace moat::metrics {
namespace {

using mqtt::Direction;
using mqtt::PacketType;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using testing::SampleValue;

std::unique_ptr<MetricsRegistry> MakeRegistry() {
  absl::StatusOr<std::unique_ptr<MetricsRegistry>> registry =
      MetricsRegistry::Create({.listeners = {"tls", "plain"},
                               .certificate_files = {"/etc/moat/server.crt"},
                               .version = "0.1.0",
                               .openssl_version = "3.0.19"});
  EXPECT_TRUE(registry.ok()) << registry.status();
  return std::move(registry).value();
}

std::string Text(const MetricsRegistry& registry) {
  return Serialize(registry.Collect(), ExpositionFormat::kPrometheusText);
}

TEST(Registry, SumsCountsFromTwoThreads) {
  auto registry = MakeRegistry();
  constexpr int kIterations = 200'000;
  auto work = [&](ThreadCounters& counters, ListenerId listener) {
    for (int i = 0; i < kIterations; ++i) {
      counters.Add<Metric::kPacketsTotal>(Direction::kClientToServer, PacketType::kPublish);
      counters.Add<Metric::kBytesTotal>(Direction::kClientToServer, 10);
      counters.Add<Metric::kConnectionsAcceptedTotal>(listener);
    }
    counters.GaugeAdd<Metric::kConnectionsActive>(listener, +3);
    counters.GaugeAdd<Metric::kConnectionsActive>(listener, -1);
  };
  ThreadCounters& first = registry->AddThread();
  ThreadCounters& second = registry->AddThread();
  // Scrapes while the workers count never block them and see monotonic counts.
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    double last = 0;
    while (!done.load()) {
      const double now =
          SampleValue(Text(*registry),
                      R"(moat_packets_total{direction="client_to_broker",type="publish"})")
              .value_or(-1);
      EXPECT_GE(now, last);
      last = now;
    }
  });
  std::thread a([&] { work(first, ListenerId{0}); });
  std::thread b([&] { work(second, ListenerId{1}); });
  a.join();
  b.join();
  done = true;
  scraper.join();

  const std::string text = Text(*registry);
  EXPECT_THAT(
      SampleValue(text, R"(moat_packets_total{direction="client_to_broker",type="publish"})"),
      Optional(2.0 * kIterations));
  EXPECT_THAT(
      SampleValue(text, R"(moat_packets_total{direction="broker_to_client",type="publish"})"),
      Optional(0.0));
  EXPECT_THAT(SampleValue(text, R"(moat_bytes_total{direction="client_to_broker"})"),
              Optional(20.0 * kIterations));
  EXPECT_THAT(SampleValue(text, R"(moat_connections_accepted_total{listener="tls"})"),
              Optional(1.0 * kIterations));
  EXPECT_THAT(SampleValue(text, R"(moat_connections_accepted_total{listener="plain"})"),
              Optional(1.0 * kIterations));
  EXPECT_THAT(SampleValue(text, R"(moat_connections_active{listener="tls"})"), Optional(2.0));
}

TEST(Registry, GaugeGoesDownAcrossTheSumOfThreads) {
  auto registry = MakeRegistry();
  ThreadCounters& counters = registry->AddThread();
  counters.GaugeAdd<Metric::kConnectionsActive>(ListenerId{1}, -2);
  EXPECT_THAT(SampleValue(Text(*registry), R"(moat_connections_active{listener="plain"})"),
              Optional(-2.0));
}

TEST(Registry, RendersEveryLabelFromItsEnum) {
  auto registry = MakeRegistry();
  ThreadCounters& counters = registry->AddThread();
  counters.Add<Metric::kDenialsTotal>(policy::Action::kSubscribe, policy::DenyReason::kDenyRule,
                                      DenyMode::kEnforce, kNoRuleLabel, 4);
  counters.Add<Metric::kDenialsTotal>(policy::Action::kWill, policy::DenyReason::kRetainLimit,
                                      DenyMode::kAudit, kNoRuleLabel);
  counters.Add<Metric::kMalformedPacketsTotal>(Direction::kServerToClient,
                                               mqtt::DecodeError::kInvalidTopicAlias);
  counters.Add<Metric::kMalformedPacketsTotal>(Direction::kClientToServer,
                                               mqtt::DecodeError::kRemainingLengthTooLong, 2);
  counters.Add<Metric::kTlsHandshakeFailuresTotal>(ListenerId{0}, TlsFailureReason::kUnknownCa);
  counters.Add<Metric::kConnectTotal>(ConnectResult::kUpstreamUnavailable);
  counters.Add<Metric::kUpstreamErrorsTotal>(UpstreamErrorReason::kDns);
  counters.Add<Metric::kPacketsTotal>(Direction::kServerToClient, PacketType::kAuth);
  registry->Add<Metric::kReloadsTotal>(ReloadResult::kFailure);
  registry->Set<Metric::kPolicyVersion>(7);
  registry->Set<Metric::kCertificateExpiryTimestampSeconds>(CertificateFileId{0}, 1'900'000'000);

  const std::string text = Text(*registry);
  EXPECT_THAT(
      SampleValue(
          text,
          R"(moat_denials_total{action="subscribe",reason="deny_rule",mode="enforce",rule="default"})"),
      Optional(4.0));
  EXPECT_THAT(
      SampleValue(
          text,
          R"(moat_denials_total{action="will",reason="retain_limit",mode="audit",rule="default"})"),
      Optional(1.0));
  EXPECT_THAT(
      SampleValue(
          text,
          R"(moat_denials_total{action="publish",reason="deny_rule",mode="enforce",rule="default"})"),
      Optional(0.0));
  EXPECT_THAT(
      SampleValue(
          text,
          R"(moat_malformed_packets_total{direction="broker_to_client",reason="invalid_topic_alias"})"),
      Optional(1.0));
  EXPECT_THAT(
      SampleValue(
          text,
          R"(moat_malformed_packets_total{direction="client_to_broker",reason="remaining_length_too_long"})"),
      Optional(2.0));
  EXPECT_THAT(
      SampleValue(text, R"(moat_tls_handshake_failures_total{listener="tls",reason="unknown_ca"})"),
      Optional(1.0));
  EXPECT_THAT(SampleValue(text, R"(moat_connect_total{result="upstream_unavailable"})"),
              Optional(1.0));
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_errors_total{reason="dns"})"), Optional(1.0));
  EXPECT_THAT(SampleValue(text, R"(moat_packets_total{direction="broker_to_client",type="auth"})"),
              Optional(1.0));
  EXPECT_THAT(SampleValue(text, R"(moat_reloads_total{result="failure"})"), Optional(1.0));
  EXPECT_THAT(SampleValue(text, R"(moat_reloads_total{result="success"})"), Optional(0.0));
  EXPECT_THAT(SampleValue(text, "moat_policy_version"), Optional(7.0));
  EXPECT_THAT(
      SampleValue(text,
                  R"(moat_certificate_expiry_timestamp_seconds{file="/etc/moat/server.crt"})"),
      Optional(1.9e9));
  EXPECT_THAT(SampleValue(text, R"(moat_build_info{version="0.1.0",openssl="3.0.19"})"),
              Optional(1.0));
}

TEST(Registry, OutOfRangeLabelsCountNowhere) {
  auto registry = MakeRegistry();
  ThreadCounters& counters = registry->AddThread();
  counters.Add<Metric::kConnectionsAcceptedTotal>(ListenerId{2});  // only 0 and 1 exist
  counters.Add<Metric::kPacketsTotal>(Direction::kClientToServer, PacketType::kReserved);
  counters.Add<Metric::kMalformedPacketsTotal>(Direction::kClientToServer,
                                               mqtt::DecodeError::kNone);
  for (const prometheus::MetricFamily& family : registry->Collect()) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      if (family.name == "moat_build_info" || family.name.starts_with("process_")) continue;
      EXPECT_EQ(metric.counter.value + metric.gauge.value, 0) << family.name;
    }
  }
}

TEST(Registry, EveryTableEntryAppearsAtZero) {
  // No listeners, no certificate files: those families have no series but still their
  // HELP and TYPE lines.
  auto registry = MetricsRegistry::Create({});
  ASSERT_TRUE(registry.ok());
  const std::string text = Text(**registry);
  for (const MetricDef& def : kMetricTable) {
    EXPECT_THAT(text, HasSubstr("# HELP " + std::string(def.name) + " " + std::string(def.help) +
                                "\n# TYPE " + std::string(def.name) + " " +
                                std::string(MetricTypeName(def.type)) + "\n"));
  }
  EXPECT_THAT(SampleValue(text, R"(moat_connect_total{result="accepted"})"), Optional(0.0));
  EXPECT_THAT(SampleValue(text, "moat_bans_active"), Optional(0.0));
  EXPECT_THAT(SampleValue(text, "moat_upstream_connect_seconds_count"), Optional(0.0));
  EXPECT_THAT(text, HasSubstr(R"(moat_build_info{version="unknown",openssl=")"));
  // process_* come from /proc/self.
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(SampleValue(text, "process_open_fds").value_or(0), 0);
  EXPECT_GT(SampleValue(text, "process_start_time_seconds").value_or(0), 1.6e9);
  EXPECT_TRUE(SampleValue(text, "process_cpu_seconds_total").has_value());
}

// ---- the rule label: bounded, sparse, named at scrape time ----------------------------

// Names as policy::RuleLabels hands them out: the fixed four, then ids, "" for the rest.
struct RuleNames {
  std::vector<std::string> names = {"default", "acl_file", "reserved_topic", "other"};
  std::unique_ptr<MetricsRegistry> Registry() {
    auto registry = MetricsRegistry::Create({.rule_labels = [this] { return names; }});
    EXPECT_TRUE(registry.ok());
    return std::move(registry).value();
  }
};

constexpr std::string_view kPublishDeny =
    R"(moat_denials_total{action="publish",reason="deny_rule",mode="enforce",rule=")";
std::optional<double> Denials(const std::string& text, std::string_view rule,
                              std::string_view prefix = kPublishDeny) {
  return SampleValue(text, std::string(prefix) + std::string(rule) + "\"}");
}

TEST(RegistryRuleLabel, CountsUnderTheRuleNameTheCallbackGives) {
  RuleNames rules;
  rules.names.push_back("no-secrets");
  auto registry = rules.Registry();
  ThreadCounters& counters = registry->AddThread();
  counters.Add<Metric::kDenialsTotal>(policy::Action::kPublish, policy::DenyReason::kDenyRule,
                                      DenyMode::kEnforce, RuleLabel{4}, 2);
  counters.Add<Metric::kDenialsTotal>(policy::Action::kPublish, policy::DenyReason::kDenyRule,
                                      DenyMode::kEnforce, RuleLabel{1});
  const std::string text = Text(*registry);
  EXPECT_THAT(Denials(text, "no-secrets"), Optional(2.0));
  EXPECT_THAT(Denials(text, "acl_file"), Optional(1.0));
  EXPECT_THAT(Denials(text, "default"), Optional(0.0));
}

TEST(RegistryRuleLabel, OnlyDefaultIsExportedAtZero) {
  RuleNames rules;
  rules.names.push_back("quiet-rule");
  auto registry = rules.Registry();
  const std::string text = Text(*registry);
  EXPECT_THAT(Denials(text, "default"), Optional(0.0));
  EXPECT_EQ(Denials(text, "quiet-rule"), std::nullopt);
  EXPECT_EQ(Denials(text, "acl_file"), std::nullopt);
  // 5 actions x 16 reasons x 3 modes, all for rule="default": as many series as before
  // the label existed, not 260 times as many.
  size_t series = 0;
  for (const prometheus::MetricFamily& family : registry->Collect()) {
    if (family.name == "moat_denials_total") series = family.metric.size();
  }
  EXPECT_EQ(series, 5u * 16u * 3u);
}

TEST(RegistryRuleLabel, IsBoundedWhateverTheCallbackReturns) {
  RuleNames rules;
  for (uint32_t i = 4; i < kRuleLabelCount + 50; ++i)
    rules.names.push_back("r" + std::to_string(i));
  auto registry = rules.Registry();
  ThreadCounters& counters = registry->AddThread();
  for (uint32_t i = 0; i < kRuleLabelCount + 50; ++i) {
    counters.Add<Metric::kDenialsTotal>(policy::Action::kPublish, policy::DenyReason::kDenyRule,
                                        DenyMode::kEnforce, RuleLabel{static_cast<uint16_t>(i)});
  }
  const std::string text = Text(*registry);
  EXPECT_THAT(Denials(text, "r" + std::to_string(kRuleLabelCount - 1)), Optional(1.0));
  // Past the bound a label counts nowhere, as any out-of-range label does.
  EXPECT_EQ(Denials(text, "r" + std::to_string(kRuleLabelCount)), std::nullopt);
  size_t series = 0;
  for (const prometheus::MetricFamily& family : registry->Collect()) {
    if (family.name != "moat_denials_total") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      series += metric.counter.value > 0 ? 1 : 0;
    }
  }
  EXPECT_EQ(series, kRuleLabelCount);
}

TEST(RegistryRuleLabel, UnnamedOrUnprintableValuesAreLeftOut) {
  RuleNames rules;
  rules.names.push_back("");         // 4: not given out
  rules.names.push_back("bad\xff");  // 5: not UTF-8
  rules.names[0] = "renamed";        // value 0 keeps its name whatever the callback says
  auto registry = rules.Registry();
  ThreadCounters& counters = registry->AddThread();
  for (uint16_t i : {0, 4, 5}) {
    counters.Add<Metric::kDenialsTotal>(policy::Action::kPublish, policy::DenyReason::kDenyRule,
                                        DenyMode::kEnforce, RuleLabel{i});
  }
  const std::string text = Text(*registry);
  EXPECT_THAT(Denials(text, "default"), Optional(1.0));
  EXPECT_THAT(text, Not(HasSubstr(R"(rule="")")));
  EXPECT_THAT(text, Not(HasSubstr(R"(rule="bad)")));
  EXPECT_THAT(text, Not(HasSubstr("renamed")));
}

TEST(RegistryRuleLabel, NamesAreReadAtEveryScrapeSoAReloadAddsRules) {
  RuleNames rules;
  auto registry = rules.Registry();
  ThreadCounters& counters = registry->AddThread();
  counters.Add<Metric::kDenialsTotal>(policy::Action::kSubscribe, policy::DenyReason::kDenyRule,
                                      DenyMode::kAudit, RuleLabel{4});
  constexpr std::string_view kAuditSubscribe =
      R"(moat_denials_total{action="subscribe",reason="deny_rule",mode="audit",rule=")";
  EXPECT_EQ(Denials(Text(*registry), "old-rule", kAuditSubscribe), std::nullopt);
  rules.names.push_back("old-rule");  // what a (re)load gives number 4
  rules.names.push_back("new-rule");
  counters.Add<Metric::kDenialsTotal>(policy::Action::kSubscribe, policy::DenyReason::kDenyRule,
                                      DenyMode::kAudit, RuleLabel{5});
  const std::string text = Text(*registry);
  EXPECT_THAT(Denials(text, "old-rule", kAuditSubscribe), Optional(1.0));
  EXPECT_THAT(Denials(text, "new-rule", kAuditSubscribe), Optional(1.0));
}

TEST(RegistryRuleLabel, WithoutACallbackOnlyDefaultHasAName) {
  auto registry = MetricsRegistry::Create({}).value();
  ThreadCounters& counters = registry->AddThread();
  counters.Add<Metric::kDenialsTotal>(policy::Action::kPublish, policy::DenyReason::kDenyRule,
                                      DenyMode::kEnforce, RuleLabel{7});
  const std::string text = Text(*registry);
  EXPECT_THAT(Denials(text, "default"), Optional(0.0));
  EXPECT_THAT(text, Not(HasSubstr(R"(rule="")")));
}

TEST(Registry, HistogramsSumThreadsAndControlPlane) {
  auto registry = MakeRegistry();
  ThreadCounters& first = registry->AddThread();
  ThreadCounters& second = registry->AddThread();
  first.Observe<Metric::kUpstreamConnectSeconds>(0.003);   // le 0.005
  second.Observe<Metric::kUpstreamConnectSeconds>(0.005);  // le 0.005 (bounds inclusive)
  second.Observe<Metric::kUpstreamConnectSeconds>(42.0);   // +Inf only
  registry->Observe<Metric::kUpstreamConnectSeconds>(0.2);
  first.Observe<Metric::kPolicyDecisionSeconds>(2e-6);

  const std::string text = Text(*registry);
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_connect_seconds_bucket{le="0.0025"})"),
              Optional(0.0));
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_connect_seconds_bucket{le="0.005"})"),
              Optional(2.0));
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_connect_seconds_bucket{le="0.25"})"),
              Optional(3.0));
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_connect_seconds_bucket{le="10"})"), Optional(3.0));
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_connect_seconds_bucket{le="+Inf"})"),
              Optional(4.0));
  EXPECT_THAT(SampleValue(text, "moat_upstream_connect_seconds_count"), Optional(4.0));
  EXPECT_NEAR(SampleValue(text, "moat_upstream_connect_seconds_sum").value_or(0), 42.208, 1e-9);
  EXPECT_THAT(SampleValue(text, "moat_policy_decision_seconds_count"), Optional(1.0));
}

TEST(Registry, RefusesLabelValuesThatCouldBreakTheExposition) {
  EXPECT_FALSE(MetricsRegistry::Create({.listeners = {"a", "a"}}).ok());
  EXPECT_FALSE(MetricsRegistry::Create({.listeners = {""}}).ok());
  EXPECT_FALSE(MetricsRegistry::Create({.listeners = {"bad\nname"}}).ok());
  EXPECT_FALSE(MetricsRegistry::Create({.certificate_files = {"\xff.crt"}}).ok());
  EXPECT_TRUE(MetricsRegistry::Create({.certificate_files = {R"(C:\"odd".crt)"}}).ok());
}

TEST(Registry, EscapesConfiguredLabelValues) {
  auto registry = MetricsRegistry::Create({.certificate_files = {R"(a\"b".crt)"}});
  ASSERT_TRUE(registry.ok());
  (*registry)->Set<Metric::kCertificateExpiryTimestampSeconds>(CertificateFileId{0}, 5);
  EXPECT_THAT(SampleValue(Text(**registry),
                          R"(moat_certificate_expiry_timestamp_seconds{file="a\\\"b\".crt"})"),
              Optional(5.0));
}

TEST(Registry, FindsConfiguredValuesByName) {
  auto registry = MakeRegistry();
  EXPECT_EQ(registry->FindListener("plain")->index, 1u);
  EXPECT_FALSE(registry->FindListener("nope").has_value());
  EXPECT_EQ(registry->FindCertificateFile("/etc/moat/server.crt")->index, 0u);
  EXPECT_FALSE(registry->FindCrlFile("/etc/moat/server.crt").has_value());
}

TEST(Registry, ExportsEachCrlFilesNextUpdate) {
  auto registry =
      MetricsRegistry::Create({.crl_files = {"/etc/moat/ca.crl", "/etc/moat/partner.crl"}});
  ASSERT_TRUE(registry.ok());
  const auto partner = (*registry)->FindCrlFile("/etc/moat/partner.crl");
  ASSERT_TRUE(partner.has_value());
  (*registry)->Set<Metric::kCrlNextUpdateTimestampSeconds>(*partner, 1'900'000'000);
  const std::string text = Text(**registry);
  EXPECT_THAT(
      SampleValue(text, R"(moat_crl_next_update_timestamp_seconds{file="/etc/moat/partner.crl"})"),
      Optional(1'900'000'000.0));
  // Not set: 0, which the alert rules read as "no nextUpdate".
  EXPECT_THAT(
      SampleValue(text, R"(moat_crl_next_update_timestamp_seconds{file="/etc/moat/ca.crl"})"),
      Optional(0.0));
  EXPECT_FALSE(MetricsRegistry::Create({.crl_files = {"a.crl", "a.crl"}}).ok());
}

// Upstream servers come from the config; their links move up and down from every worker.
TEST(Registry, CountsPerUpstreamServer) {
  auto registry =
      MetricsRegistry::Create({.upstream_servers = {"192.0.2.5:1883", "192.0.2.6:1883"}});
  ASSERT_TRUE(registry.ok());
  MetricsRegistry& r = **registry;
  const UpstreamServerId second{1};
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) r.GaugeAdd<Metric::kUpstreamServerConnections>(second, +1);
  });
  std::thread b([&] {
    for (int i = 0; i < 400; ++i) r.GaugeAdd<Metric::kUpstreamServerConnections>(second, -1);
  });
  a.join();
  b.join();
  r.Set<Metric::kUpstreamServerUp>(UpstreamServerId{0}, 1);
  r.Add<Metric::kUpstreamServerConnectErrorsTotal>(second);
  const std::string text = Text(r);
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_server_connections{server="192.0.2.6:1883"})"),
              Optional(600.0));
  EXPECT_THAT(SampleValue(text, R"(moat_upstream_server_up{server="192.0.2.5:1883"})"),
              Optional(1.0));
  EXPECT_THAT(
      SampleValue(text, R"(moat_upstream_server_connect_errors_total{server="192.0.2.6:1883"})"),
      Optional(1.0));
  EXPECT_FALSE(MetricsRegistry::Create({.upstream_servers = {"a:1", "a:1"}}).ok());
}

TEST(Registry, IsAPrometheusCollectable) {
  auto registry = MakeRegistry();
  const prometheus::Collectable& collectable = *registry;
  EXPECT_EQ(collectable.Collect().size(), kMetricCount);
}

// Listeners a reload adds take spare ids: their series appear once named, and a name a
// run has seen keeps its id (and its counts) whatever reloads do.
TEST(Registry, ListenersAddedByReloadTakeSpareIdsUntilNoneIsLeft) {
  auto registry = MetricsRegistry::Create({.listeners = {"tls"}, .spare_listeners = 1});
  ASSERT_TRUE(registry.ok());
  EXPECT_THAT(Text(**registry), Not(HasSubstr("moat_connections_accepted_total{listener=\"\"}")));
  EXPECT_EQ((*registry)->AddListener("tls")->index, 0u);
  const std::optional<ListenerId> added = (*registry)->AddListener("second");
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->index, 1u);
  ThreadCounters& counters = (*registry)->AddThread();
  counters.Add<Metric::kConnectionsAcceptedTotal>(*added);
  EXPECT_THAT(
      SampleValue(Text(**registry), R"(moat_connections_accepted_total{listener="second"})"),
      Optional(1.0));
  EXPECT_EQ((*registry)->AddListener("second")->index, 1u);
  EXPECT_FALSE((*registry)->AddListener("third").has_value());
  EXPECT_FALSE((*registry)->AddListener("bad\nname").has_value());
}

}  // namespace
}  // namespace moat::metrics
