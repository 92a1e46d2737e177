// A native rule's `payload:` key: read and checked with its line, carried by the
// decisions that grant a PUBLISH, named by `policy explain`; and IsSparkplugPayload(),
// judged on payloads built with the code protoc makes from policy/payload/sparkplug_b.proto.
#include "policy/payload/payload_format.h"

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "policy/acl/explain.h"
#include "policy/acl/yaml_policy.h"
#include "policy/payload/sparkplug_b.pb.h"
#include "tests/policy_acl/yaml_policy_fixture.h"

namespace moat::policy {
namespace {

using test::RuleProblem;

using SparkplugPayload = org::eclipse::tahu::protobuf::Payload;

SparkplugPayload NData() {
  SparkplugPayload payload;
  payload.set_timestamp(1'700'000'000'000);
  payload.set_seq(7);
  auto* metric = payload.add_metrics();
  metric->set_name("Line/Speed");
  metric->set_alias(3);
  metric->set_datatype(org::eclipse::tahu::protobuf::Double);
  metric->set_double_value(12.5);
  auto* set = payload.add_metrics();
  set->set_name("Recipe");
  set->set_datatype(org::eclipse::tahu::protobuf::DataSet);
  auto* dataset = set->mutable_dataset_value();
  dataset->set_num_of_columns(1);
  dataset->add_columns("step");
  dataset->add_types(org::eclipse::tahu::protobuf::Int32);
  dataset->add_rows()->add_elements()->set_int_value(4);
  return payload;
}

TEST(SparkplugPayload, AcceptsWhatTheSpecsMessageEncodes) {
  EXPECT_TRUE(IsSparkplugPayload(NData().SerializeAsString()));
  SparkplugPayload death;  // an NDEATH: a timestamp and bdSeq, no seq
  death.set_timestamp(1);
  auto* bd_seq = death.add_metrics();
  bd_seq->set_name("bdSeq");
  bd_seq->set_datatype(org::eclipse::tahu::protobuf::Int64);
  bd_seq->set_long_value(0);
  EXPECT_TRUE(IsSparkplugPayload(death.SerializeAsString()));
  SparkplugPayload last_seq = NData();
  last_seq.set_seq(255);
  EXPECT_TRUE(IsSparkplugPayload(last_seq.SerializeAsString()));
}

TEST(SparkplugPayload, RefusesWhatIsNotSparkplug) {
  const std::string valid = NData().SerializeAsString();
  EXPECT_FALSE(IsSparkplugPayload(""));  // decodes as an empty message: no timestamp
  EXPECT_FALSE(IsSparkplugPayload("hello world"));
  EXPECT_FALSE(IsSparkplugPayload("{\"online\": true, \"timestamp\": 1700000000000}"));
  EXPECT_FALSE(IsSparkplugPayload(std::string_view("\xff\xff\xff\xff\xff\xff", 6)));
  EXPECT_FALSE(IsSparkplugPayload(valid.substr(0, valid.size() - 3)));  // cut short
  SparkplugPayload no_timestamp = NData();
  no_timestamp.clear_timestamp();
  EXPECT_FALSE(IsSparkplugPayload(no_timestamp.SerializeAsString()));
  SparkplugPayload big_seq = NData();
  big_seq.set_seq(256);
  EXPECT_FALSE(IsSparkplugPayload(big_seq.SerializeAsString()));
  // Fields the spec does not define, at the top (field 6, in its extension range) and
  // inside a metric (field 20): refused, wherever they are.
  EXPECT_FALSE(IsSparkplugPayload(valid + std::string("\x30\x01", 2)));
  SparkplugPayload nested = NData();
  nested.mutable_metrics(0)->mutable_metadata()->set_is_multi_part(false);
  const std::string with_metadata = nested.SerializeAsString();
  EXPECT_TRUE(IsSparkplugPayload(with_metadata));
  SparkplugPayload unknown_inside = NData();
  unknown_inside.mutable_metrics(0)
      ->GetReflection()
      ->MutableUnknownFields(unknown_inside.mutable_metrics(0))
      ->AddVarint(20, 1);
  EXPECT_FALSE(IsSparkplugPayload(unknown_inside.SerializeAsString()));
  // What was valid before a refusal is valid after it: nothing is left behind.
  EXPECT_TRUE(IsSparkplugPayload(valid));
}

TEST(SparkplugPayload, JudgesALargePayloadAsASmallOne) {
  SparkplugPayload payload = NData();
  payload.mutable_metrics(0)->set_string_value(std::string(100'000, 'x'));
  const std::string bytes = payload.SerializeAsString();
  EXPECT_TRUE(IsSparkplugPayload(bytes));
  EXPECT_FALSE(IsSparkplugPayload(bytes.substr(0, 90'000)));
}

TEST(PayloadFormat, NamesAndMatches) {
  EXPECT_EQ(ParsePayloadFormat("sparkplug_b"), PayloadFormat::kSparkplugB);
  EXPECT_EQ(ParsePayloadFormat("json"), std::nullopt);
  EXPECT_EQ(PayloadFormatName(PayloadFormat::kSparkplugB), "sparkplug_b");
  EXPECT_TRUE(PayloadMatches(PayloadFormat::kAny, "hello world"));
  EXPECT_FALSE(PayloadMatches(PayloadFormat::kSparkplugB, "hello world"));
}

constexpr std::string_view kEdges =
    "rules:\n"
    "  - {id: edge, effect: allow, actions: [publish], topics: ['spBv1.0/g/+/%u/#'], "
    "everyone: true, payload: sparkplug_b}\n"
    "  - {id: loose, effect: allow, actions: [publish], topics: ['spBv1.0/g/NDATA/#'], "
    "users: [legacy]}\n"
    "  - {id: trial, effect: allow, actions: [publish], topics: ['trial/#'], everyone: true, "
    "payload: sparkplug_b, mode: audit}\n";

std::shared_ptr<const AclPolicy> Load(std::string_view yaml) {
  RuleLabels labels;  // numbered afresh; the policy keeps what it was given
  return test::Build(yaml, {}, labels);
}

ClientIdentity User(std::string name) {
  ClientIdentity client;
  client.username = std::move(name);
  client.client_id = "c";
  return client;
}

TEST(PayloadFormatRule, AGrantCarriesTheFormatAndTheRuleThatSetsIt) {
  const auto policy = Load(kEdges);
  const Decision edge = policy->MayPublish(User("e1"), "spBv1.0/g/NDATA/e1", 0, false);
  ASSERT_TRUE(edge.allowed());
  EXPECT_EQ(edge.payload_format, PayloadFormat::kSparkplugB);
  EXPECT_EQ(edge.rule, "edge");
  EXPECT_NE(edge.format_label, 0);
  EXPECT_FALSE(edge.format_audit);
  EXPECT_EQ(policy->MayPublish(User("e1"), "spBv1.0/g/NDATA/e2", 0, false).verdict, Verdict::kDeny);
  // A grant that asks for no format lets any payload through, as the most generous
  // max_payload decides.
  EXPECT_EQ(policy->MayPublish(User("legacy"), "spBv1.0/g/NDATA/legacy", 0, false).payload_format,
            PayloadFormat::kAny);
  const Decision trial = policy->MayPublish(User("e1"), "trial/x", 0, false);
  EXPECT_EQ(trial.payload_format, PayloadFormat::kSparkplugB);
  EXPECT_TRUE(trial.format_audit);
  EXPECT_EQ(policy->MayReceive(User("e1"), "spBv1.0/g/NDATA/e1").payload_format,
            PayloadFormat::kAny);
}

TEST(PayloadFormatRule, ExplainNamesTheFormat) {
  const auto policy = Load(kEdges);
  std::ostringstream out, err;
  ExplainRequest request;
  request.client = User("e1");
  request.action = Action::kPublish;
  request.topic = "spBv1.0/g/NBIRTH/e1";
  EXPECT_EQ(RunPolicyExplain(*policy, request, out, err), kExplainAllow);
  EXPECT_EQ(out.str(), "allow rule edge at policy.yaml:2 (payload sparkplug_b)\n");
}

TEST(PayloadFormatErrors, NamesTheLineAndWhatIsKnown) {
  EXPECT_EQ(RuleProblem("    payload: sparkplug_b\n"), "");
  EXPECT_EQ(RuleProblem("    payload: json\n"),
            "policy.yaml:7: 'rules[0].payload' must be a payload format moat checks "
            "(sparkplug_b), got 'json'");
  EXPECT_EQ(RuleProblem("    payload: sparkplug_b\n", "[publish]", "deny"),
            "policy.yaml:7: 'rules[0].payload' is a limit on what an allow rule grants; rule "
            "'r1' is a deny rule");
  EXPECT_EQ(RuleProblem("    payload: sparkplug_b\n", "[subscribe]"),
            "policy.yaml:7: 'rules[0].payload' limits what a rule lets publish; rule 'r1' "
            "grants no publish");
}

}  // namespace
}  // namespace moat::policy
