#include "metrics/metric_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy/mqtt/decode_error.h"
#include "proxy/mqtt/types.h"

namespace moat::metrics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Values(Domain domain) {
  std::vector<std::string> values;
  for (std::string_view value : ClosedDomainValues(domain)) values.emplace_back(value);
  return values;
}

TEST(MetricTable, MalformedReasonsAreEveryDecodeErrorName) {
  const std::vector<std::string> values = Values(Domain::kDecodeError);
  ASSERT_EQ(values.size(), ClosedDomainSize(Domain::kDecodeError));
  std::set<std::string> unique(values.begin(), values.end());
  EXPECT_EQ(unique.size(), values.size());
  EXPECT_EQ(unique.count("none"), 0u);
  EXPECT_EQ(unique.count("unknown"), 0u);
  EXPECT_EQ(values.front(), "remaining_length_too_long");
  EXPECT_EQ(values.back(), "invalid_topic_alias");
  // Nothing past the last value the table knows: a new DecodeError appended to the codec
  // fails here until ClosedDomainSize(kDecodeError) names it.
  EXPECT_EQ(mqtt::DecodeErrorName(
                static_cast<mqtt::DecodeError>(ClosedDomainSize(Domain::kDecodeError) + 1)),
            "unknown");
}

TEST(MetricTable, PacketTypesAreTheCodecNamesWithoutReserved) {
  EXPECT_THAT(Values(Domain::kPacketType),
              ElementsAre("connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
                          "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp",
                          "disconnect", "auth"));
  EXPECT_EQ(LabelTraits<mqtt::PacketType>::Index(mqtt::PacketType::kConnect), 0u);
  // kReserved maps out of range, so it is counted nowhere.
  EXPECT_GE(LabelTraits<mqtt::PacketType>::Index(mqtt::PacketType::kReserved),
            ClosedDomainSize(Domain::kPacketType));
  EXPECT_GE(LabelTraits<mqtt::DecodeError>::Index(mqtt::DecodeError::kNone),
            ClosedDomainSize(Domain::kDecodeError));
}

TEST(MetricTable, ClosedEnumsHaveTheirDocumentedValues) {
  EXPECT_THAT(Values(Domain::kDirection), ElementsAre("client_to_broker", "broker_to_client"));
  EXPECT_THAT(Values(Domain::kTlsFailureReason),
              ElementsAre("no_shared_cipher", "bad_client_certificate", "expired", "unknown_ca",
                          "revoked", "crl_unavailable", "timeout", "other"));
  EXPECT_THAT(Values(Domain::kConnectResult),
              ElementsAre("accepted", "bad_credentials", "not_authorized", "banned",
                          "upstream_unavailable", "malformed", "timeout", "server_busy"));
  EXPECT_THAT(Values(Domain::kDenyAction),
              ElementsAre("connect", "publish", "subscribe", "will", "deliver"));
  EXPECT_THAT(Values(Domain::kUpstreamErrorReason),
              ElementsAre("refused", "timeout", "tls", "dns", "source_address", "other"));
  EXPECT_THAT(Values(Domain::kAuditSink), ElementsAre("file", "syslog"));
  EXPECT_THAT(Values(Domain::kAdminOutcome),
              ElementsAre("ok", "unauthorized", "forbidden", "bad_request", "not_found",
                          "body_too_large", "ban_limit", "connection_limit", "timeout", "error"));
  EXPECT_EQ(Values(Domain::kSessionEnd)[static_cast<size_t>(SessionEnd::kAdmin)], "admin");
  EXPECT_THAT(Values(Domain::kDenyReason),
              ElementsAre("no_rule", "deny_rule", "qos_limit", "retain_limit", "payload_limit",
                          "payload_format", "not_authenticated", "bad_credentials", "banned",
                          "topic_length", "topic_levels", "subscription_limit", "subscribe_filters",
                          "inflight_limit", "message_rate", "byte_rate"));
  EXPECT_THAT(Values(Domain::kDenyMode), ElementsAre("enforce", "audit", "throttle"));
  EXPECT_EQ(Values(Domain::kDenyReason)[LabelTraits<policy::DenyReason>::Index(
                policy::DenyReason::kRetainLimit)],
            "retain_limit");
  EXPECT_TRUE(Values(Domain::kListener).empty());  // from the config, not the table
}

TEST(MetricTable, EveryClosedValueIsALabelSafeName) {
  for (size_t d = 0; d < kDomainCount; ++d) {
    const Domain domain = static_cast<Domain>(d);
    EXPECT_EQ(ClosedDomainValues(domain).size(), ClosedDomainSize(domain));
    std::set<std::string_view> seen;
    for (std::string_view value : ClosedDomainValues(domain)) {
      EXPECT_TRUE(table_checks::IsValidName(value)) << value;
      EXPECT_TRUE(seen.insert(value).second) << value;
    }
  }
}

TEST(MetricTable, ContractDenialsHaveActionAndReason) {
  const MetricDef& denials = Def(Metric::kDenialsTotal);
  EXPECT_EQ(denials.name, "moat_denials_total");
  EXPECT_EQ(denials.type, MetricType::kCounter);
  ASSERT_EQ(denials.labels.size, 4u);
  EXPECT_EQ(denials.labels.items[0].name, "action");
  EXPECT_EQ(denials.labels.items[1].name, "reason");
  EXPECT_EQ(denials.labels.items[2].name, "mode");  // enforce | audit (policy.mode)
  EXPECT_EQ(denials.labels.items[3].name, "rule");  // bounded: kRuleLabelCount values
  EXPECT_EQ(denials.labels.items[3].domain, Domain::kRule);
  EXPECT_TRUE(IsSparse(Domain::kRule));
}

TEST(MetricTable, MarkdownHasOneRowPerMetric) {
  const std::string markdown = RenderMetricTableMarkdown();
  EXPECT_THAT(markdown, ::testing::StartsWith("| name | type | labels | help |\n| --- |"));
  size_t rows = 0;
  for (size_t pos = 0; (pos = markdown.find("\n| `", pos)) != std::string::npos; ++pos) ++rows;
  EXPECT_EQ(rows, kMetricCount);
  for (const MetricDef& def : kMetricTable) {
    EXPECT_THAT(markdown, HasSubstr("| `" + std::string(def.name) + "` | " +
                                    std::string(MetricTypeName(def.type)) + " | "));
  }
  EXPECT_THAT(
      markdown,
      HasSubstr(
          "| `moat_connect_total` | counter | `result`: accepted, bad_credentials, "
          "not_authorized, banned, upstream_unavailable, malformed, timeout, server_busy | "));
  EXPECT_THAT(markdown, HasSubstr("`listener`: the configured listener names"));
  EXPECT_THAT(markdown, HasSubstr("| `process_open_fds` | gauge | - | "));
}

}  // namespace
}  // namespace moat::metrics
