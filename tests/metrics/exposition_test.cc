#include "metrics/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/registry.h"
#include "tests/metrics/scrape_util.h"

namespace moat::metrics {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using testing::SampleValue;

// What Prometheus 2.x sends.
constexpr std::string_view kPrometheusAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

TEST(NegotiateFormat, PrefersOpenMetricsWhenAskedFor) {
  EXPECT_EQ(NegotiateFormat(kPrometheusAccept), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text"), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("Application/OpenMetrics-Text; version=1.0.0"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("text/plain;q=0.5, application/openmetrics-text;q=0.5"),
            ExpositionFormat::kOpenMetrics);
}

TEST(NegotiateFormat, FallsBackToTextFormat) {
  EXPECT_EQ(NegotiateFormat(""), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("*/*"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0.2, text/plain"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=bogus"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateFormat(",,;;=="), ExpositionFormat::kPrometheusText);
}

TEST(ContentType, NamesTheFormatAndVersion) {
  EXPECT_EQ(ContentType(ExpositionFormat::kPrometheusText),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ContentType(ExpositionFormat::kOpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

class OpenMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::move(MetricsRegistry::Create({.listeners = {"main"},
                                                   .certificate_files = {"x\"y.crt"},
                                                   .version = "1.2.3",
                                                   .openssl_version = "3.0.19"})
                              .value());
    ThreadCounters& counters = registry_->AddThread();
    counters.Add<Metric::kDenialsTotal>(policy::Action::kPublish, policy::DenyReason::kDenyRule,
                                        DenyMode::kEnforce, kNoRuleLabel, 3);
    counters.Observe<Metric::kUpstreamConnectSeconds>(0.5);
    counters.GaugeAdd<Metric::kConnectionsActive>(ListenerId{0}, 1);
    text_ = SerializeOpenMetrics(registry_->Collect());
  }
  std::unique_ptr<MetricsRegistry> registry_;
  std::string text_;
};

TEST_F(OpenMetricsTest, EndsWithEof) {
  EXPECT_THAT(text_, EndsWith("\n# EOF\n"));
  EXPECT_EQ(text_.find("# EOF"), text_.size() - 6);
}

TEST_F(OpenMetricsTest, NamesCounterFamiliesWithoutTotal) {
  EXPECT_THAT(text_, HasSubstr("# TYPE moat_denials counter\n# HELP moat_denials "));
  EXPECT_THAT(
      SampleValue(
          text_,
          R"(moat_denials_total{action="publish",reason="deny_rule",mode="enforce",rule="default"})"),
      Optional(3.0));
  EXPECT_THAT(text_, HasSubstr("# TYPE process_cpu_seconds counter\n"));
  EXPECT_THAT(text_, Not(HasSubstr("# TYPE moat_denials_total")));
}

TEST_F(OpenMetricsTest, EveryTableEntryHasTypeAndHelp) {
  for (const MetricDef& def : kMetricTable) {
    std::string family(def.name);
    if (def.type == MetricType::kCounter) family.resize(family.size() - 6);
    EXPECT_THAT(text_, HasSubstr("# TYPE " + family + " " + std::string(MetricTypeName(def.type)) +
                                 "\n# HELP " + family + " " + std::string(def.help) + "\n"));
  }
}

TEST_F(OpenMetricsTest, HistogramBucketsAreCanonicalAndComeFirst) {
  EXPECT_THAT(text_, HasSubstr("moat_upstream_connect_seconds_bucket{le=\"0.25\"} 0\n"
                               "moat_upstream_connect_seconds_bucket{le=\"0.5\"} 1\n"
                               "moat_upstream_connect_seconds_bucket{le=\"1.0\"} 1\n"));
  EXPECT_THAT(text_, HasSubstr("moat_upstream_connect_seconds_bucket{le=\"10.0\"} 1\n"
                               "moat_upstream_connect_seconds_bucket{le=\"+Inf\"} 1\n"
                               "moat_upstream_connect_seconds_count 1\n"
                               "moat_upstream_connect_seconds_sum 0.5\n"));
}

TEST_F(OpenMetricsTest, EscapesLabelValuesAndKeepsGauges) {
  EXPECT_THAT(text_,
              HasSubstr("moat_certificate_expiry_timestamp_seconds{file=\"x\\\"y.crt\"} 0\n"));
  EXPECT_THAT(SampleValue(text_, R"(moat_connections_active{listener="main"})"), Optional(1.0));
  EXPECT_THAT(text_, HasSubstr("moat_build_info{version=\"1.2.3\",openssl=\"3.0.19\"} 1\n"));
}

TEST(PrometheusText, IsPrometheusCppTextSerializer) {
  auto registry = MetricsRegistry::Create({}).value();
  const std::string text = Serialize(registry->Collect(), ExpositionFormat::kPrometheusText);
  EXPECT_THAT(text, HasSubstr("# TYPE moat_denials_total counter\n"));
  EXPECT_THAT(text, Not(HasSubstr("# EOF")));
}

}  // namespace
}  // namespace moat::metrics
