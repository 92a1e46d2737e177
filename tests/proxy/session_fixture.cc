#include "tests/proxy/session_fixture.h"

#include <gtest/gtest.h>

#include "metrics/exposition.h"
#include "proxy/mqtt/encoder.h"
#include "tests/metrics/scrape_util.h"

namespace moat::proxy::test {

namespace {

class NoSecrets final : public policy::Authorizer {
 public:
  policy::Decision AuthorizeConnect(const policy::ClientIdentity&) const override {
    return Allow();
  }
  policy::Decision MayPublish(const policy::ClientIdentity&, std::string_view topic, uint8_t,
                              bool) const override {
    return Judge(topic);
  }
  policy::Decision MaySubscribe(const policy::ClientIdentity&, std::string_view filter,
                                uint8_t) const override {
    return Judge(filter);
  }
  policy::Decision MayReceive(const policy::ClientIdentity&,
                              std::string_view topic) const override {
    return Judge(topic);
  }

 private:
  static policy::Decision Allow() {
    return {policy::Verdict::kAllow, policy::DenyReason::kNone, "test:1"};
  }
  static policy::Decision Judge(std::string_view topic) {
    if (!topic.starts_with("secret/")) return Allow();
    return {policy::Verdict::kDeny, policy::DenyReason::kDenyRule, "test:2"};
  }
};

}  // namespace

policy::ClientIdentity MakeIdentity(std::string_view user, std::string_view client_id) {
  policy::ClientIdentity identity;
  identity.username = user;
  identity.client_id = client_id;
  identity.address = "192.0.2.1";
  identity.listener = "test";
  return identity;
}

std::shared_ptr<const policy::Authorizer> NoSecretsAuthorizer() {
  return std::make_shared<NoSecrets>();
}

Counters::Counters() {
  auto created = metrics::MetricsRegistry::Create({.listeners = {"test"}});
  EXPECT_TRUE(created.ok()) << created.status();
  registry = std::move(created).value();
  thread = &registry->AddThread();
}

double Counters::Value(std::string_view series) const {
  const std::string text =
      metrics::Serialize(registry->Collect(), metrics::ExpositionFormat::kPrometheusText);
  return metrics::testing::SampleValue(text, series).value_or(0);
}

std::vector<uint8_t> Bytes(const mqtt::Packet& packet, mqtt::ProtocolVersion version) {
  std::vector<uint8_t> bytes;
  EXPECT_EQ(mqtt::Encode(packet, version, bytes), mqtt::EncodeError::kNone);
  return bytes;
}

mqtt::Connect MakeConnect(mqtt::ProtocolVersion version, uint16_t keep_alive) {
  mqtt::Connect connect;
  connect.version = version;
  connect.keep_alive = keep_alive;
  connect.client_id = "sensor-1";
  return connect;
}

mqtt::Publish MakePublish(std::string_view topic, std::string_view payload, uint8_t qos,
                          uint16_t packet_id) {
  mqtt::Publish publish;
  publish.topic = topic;
  publish.payload = payload;
  publish.qos = qos;
  publish.packet_id = packet_id;
  return publish;
}

std::vector<uint8_t> Cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

}  // namespace moat::proxy::test
