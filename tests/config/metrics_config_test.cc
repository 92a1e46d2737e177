// LoadConfig() for the metrics endpoint's optional TLS block (issue 7): the shape of a
// listener's tls block, paths resolved against the config folder, and every mistake
// reported as "FILE:LINE: message".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"
#include "tests/config/config_fixture.h"

namespace moat::config {
namespace {

using test::ConfigTest;
using test::kMinimal;
using ::testing::ElementsAre;

// kMinimal has four lines, so "metrics:" is line 5 and "  tls:" line 7.
std::string MetricsTls(std::string_view tls_body) {
  return std::string(kMinimal) + "metrics:\n  bind: \"127.0.0.1:9100\"\n  tls:\n" +
         std::string(tls_body);
}

void WriteKeyPair(test::TempDir& dir) {
  dir.Write("certs/metrics.crt", "x");
  dir.Write("certs/metrics.key", "x");
  dir.Write("certs/ca.crt", "x");
}

TEST_F(ConfigTest, LoadsMetricsTlsWithPathsResolvedAgainstTheConfigFolder) {
  WriteKeyPair(dir_);
  const absl::StatusOr<Config> config =
      Load(MetricsTls("    cert: certs/metrics.crt\n    key: ./certs/metrics.key\n"
                      "    client_ca: certs/ca.crt\n    require_client_cert: true\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->metrics.tls.has_value());
  const std::string d = dir_.path() + "/";
  EXPECT_EQ(config->metrics.tls->cert, d + "certs/metrics.crt");
  EXPECT_EQ(config->metrics.tls->key, d + "certs/metrics.key");
  EXPECT_EQ(config->metrics.tls->client_ca, d + "certs/ca.crt");
  EXPECT_TRUE(config->metrics.tls->require_client_cert);
  EXPECT_EQ(config->metrics.tls_line, 7);
}

TEST_F(ConfigTest, MetricsTlsClientCertificatesAreOptional) {
  WriteKeyPair(dir_);
  const absl::StatusOr<Config> config =
      Load(MetricsTls("    cert: certs/metrics.crt\n    key: certs/metrics.key\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->metrics.tls.has_value());
  EXPECT_TRUE(config->metrics.tls->client_ca.empty());
  EXPECT_FALSE(config->metrics.tls->require_client_cert);
}

TEST_F(ConfigTest, MetricsAreServedWithoutTlsByDefault) {
  const absl::StatusOr<Config> config =
      Load(std::string(kMinimal) + "metrics:\n  bind: \"127.0.0.1:9100\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->metrics.tls.has_value());
}

TEST_F(ConfigTest, RejectsUnknownKeysUnderMetricsTls) {
  WriteKeyPair(dir_);
  EXPECT_EQ(Problem(MetricsTls("    cert: certs/metrics.crt\n    key: certs/metrics.key\n"
                               "    ciphers: ALL\n")),
            "moat.yaml:10: unknown key 'ciphers' in 'metrics.tls'");
}

TEST_F(ConfigTest, MetricsTlsNeedsCertAndKey) {
  WriteKeyPair(dir_);
  EXPECT_EQ(Problem(MetricsTls("    cert: certs/metrics.crt\n")),
            "moat.yaml:7: missing required key 'key' in 'metrics.tls'");
  EXPECT_THAT(Problems(std::string(kMinimal) + "metrics:\n  bind: \"127.0.0.1:9100\"\n  tls: {}\n"),
              ElementsAre("moat.yaml:7: missing required key 'cert' in 'metrics.tls'",
                          "moat.yaml:7: missing required key 'key' in 'metrics.tls'"));
  // An empty "tls:" must not silently mean plain HTTP.
  EXPECT_EQ(Problem(std::string(kMinimal) + "metrics:\n  bind: \"127.0.0.1:9100\"\n  tls:\n"),
            "moat.yaml:7: 'metrics.tls' must be a map with cert and key (omit it for plain TCP)");
}

TEST_F(ConfigTest, ReportsMissingMetricsCertificateFilesAtTheirKey) {
  const std::string d = dir_.path();
  EXPECT_THAT(Problems(MetricsTls("    cert: certs/metrics.crt\n    key: /nonexistent/m.key\n"
                                  "    client_ca: ca.crt\n")),
              ElementsAre("moat.yaml:8: 'metrics.tls.cert': cannot read '" + d +
                              "/certs/metrics.crt': No such file or directory",
                          "moat.yaml:9: 'metrics.tls.key': cannot read '/nonexistent/m.key': No "
                          "such file or directory",
                          "moat.yaml:10: 'metrics.tls.client_ca': cannot read '" + d +
                              "/ca.crt': No such file or directory"));
}

TEST_F(ConfigTest, MetricsRequireClientCertNeedsClientCa) {
  WriteKeyPair(dir_);
  EXPECT_EQ(Problem(MetricsTls("    cert: certs/metrics.crt\n    key: certs/metrics.key\n"
                               "    require_client_cert: true\n")),
            "moat.yaml:10: 'metrics.tls.require_client_cert' is true but 'client_ca' is not set "
            "in 'metrics.tls'");
  EXPECT_EQ(Problem(MetricsTls("    cert: certs/metrics.crt\n    key: certs/metrics.key\n"
                               "    client_ca: certs/ca.crt\n    require_client_cert: maybe\n")),
            "moat.yaml:11: 'metrics.tls.require_client_cert' must be true or false, got 'maybe'");
}

TEST_F(ConfigTest, MetricsTlsNeedsABindAddress) {
  WriteKeyPair(dir_);
  EXPECT_EQ(Problem(std::string(kMinimal) +
                    "metrics:\n  tls:\n    cert: certs/metrics.crt\n    key: certs/metrics.key\n"),
            "moat.yaml:6: 'metrics.tls' needs 'metrics.bind' (the address to serve on)");
}

}  // namespace
}  // namespace moat::config
