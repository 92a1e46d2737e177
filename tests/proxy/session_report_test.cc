// A session's audit trail: the session_admitted line says who got in, how and over what;
// the session_ended line says why it ended, after how long, and what went each way.
#include "proxy/session/session_report.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/file_reading/temp_dir.h"
#include "tests/proxy/session_fixture.h"

namespace moat::proxy::test {
namespace {

using mqtt::Direction;
using mqtt::PacketType;

class SessionReportTest : public ::testing::Test {
 protected:
  SessionReportTest() {
    auto log = AuditLog::Open(dir_.File("audit.log"), 20, 100);
    EXPECT_TRUE(log.ok()) << log.status();
    log_ = std::move(log).value();
    AuditLog::Set(log_.get());
  }
  ~SessionReportTest() override { AuditLog::Set(nullptr); }

  // Every audit line written so far, parsed.
  std::vector<boost::json::object> Lines() {
    std::ifstream in(dir_.File("audit.log"));
    std::vector<boost::json::object> lines;
    for (std::string line; std::getline(in, line);) {
      lines.push_back(boost::json::parse(line).as_object());
    }
    return lines;
  }

  moat::test::TempDir dir_;
  std::unique_ptr<AuditLog> log_;
  FakeClock clock_;
  Counters counters_;
  policy::ClientIdentity identity_ = MakeIdentity("alice", "sensor-1");
  SessionReport report_{*counters_.thread, metrics::ListenerId{0}, identity_};
};

TEST_F(SessionReportTest, AnAdmittedSessionSaysWhoHowAndOverWhat) {
  report_.Admitted({.auth = policy::AuthMethod::kCertificate,
                    .cert_fingerprint = "ab12",
                    .tls = {.version = "TLSv1.3", .cipher = "TLS_AES_256_GCM_SHA384"},
                    .version = mqtt::ProtocolVersion::kV5},
                   clock_.Now());
  const std::vector<boost::json::object> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  const boost::json::object& line = lines[0];
  EXPECT_EQ(line.at("event").as_string(), "session_admitted");
  EXPECT_EQ(line.at("identity").as_string(), "alice");
  EXPECT_EQ(line.at("auth").as_string(), "certificate");
  EXPECT_EQ(line.at("cert_fingerprint").as_string(), "ab12");
  EXPECT_EQ(line.at("client_id").as_string(), "sensor-1");
  EXPECT_EQ(line.at("address").as_string(), "192.0.2.1");
  EXPECT_EQ(line.at("listener").as_string(), "test");
  EXPECT_EQ(line.at("tls_version").as_string(), "TLSv1.3");
  EXPECT_EQ(line.at("tls_cipher").as_string(), "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(line.at("mqtt_version").as_string(), "5");
}

TEST_F(SessionReportTest, APlainAnonymousSessionHasNoTlsOrCertificateFields) {
  report_.Admitted({.auth = policy::AuthMethod::kAnonymous,
                    .cert_fingerprint = {},
                    .tls = {},
                    .version = mqtt::ProtocolVersion::kV311},
                   clock_.Now());
  const boost::json::object line = Lines().at(0);
  EXPECT_EQ(line.at("auth").as_string(), "anonymous");
  EXPECT_EQ(line.at("mqtt_version").as_string(), "3.1.1");
  EXPECT_FALSE(line.contains("tls_version"));
  EXPECT_FALSE(line.contains("tls_cipher"));
  EXPECT_FALSE(line.contains("cert_fingerprint"));
}

TEST_F(SessionReportTest, TheEndedLineCountsFromAdmissionToTheEnd) {
  report_.Packet(Direction::kClientToServer, PacketType::kConnect, 30);
  report_.Admitted({.version = mqtt::ProtocolVersion::kV311}, clock_.Now());
  report_.Packet(Direction::kServerToClient, PacketType::kConnack, 4);
  report_.Packet(Direction::kClientToServer, PacketType::kPublish, 100);
  report_.Packet(Direction::kClientToServer, PacketType::kPublish, 50);
  report_.Packet(Direction::kClientToServer, PacketType::kPingreq, 2);
  report_.Packet(Direction::kServerToClient, PacketType::kPublish, 70);
  clock_.Advance(std::chrono::milliseconds(2500));
  report_.Ended(EndReason::kClientDisconnected, "", clock_.Now());
  const std::vector<boost::json::object> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  const boost::json::object& ended = lines[1];
  EXPECT_EQ(ended.at("event").as_string(), "session_ended");
  EXPECT_EQ(ended.at("reason").as_string(), "client_disconnected");
  EXPECT_EQ(ended.at("identity").as_string(), "alice");
  EXPECT_EQ(ended.at("duration_ms").as_int64(), 2500);
  EXPECT_EQ(ended.at("messages_from_client").to_number<uint64_t>(), 2u);
  EXPECT_EQ(ended.at("messages_from_broker").to_number<uint64_t>(), 1u);
  EXPECT_EQ(ended.at("bytes_from_client").to_number<uint64_t>(), 182u);  // CONNECT included
  EXPECT_EQ(ended.at("bytes_from_broker").to_number<uint64_t>(), 74u);
  // The packets are still counted for the metrics as before.
  EXPECT_EQ(counters_.Value(R"(moat_packets_total{direction="client_to_broker",type="publish"})"),
            2);
}

TEST_F(SessionReportTest, AClientRefusedBeforeAdmissionGetsNoEndedLine) {
  report_.AuthFailure(policy::AuthFailure::kBadCredentials);
  report_.Ended(EndReason::kRefused, "bad_credentials", clock_.Now());
  const std::vector<boost::json::object> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);  // its refused_connect line says it all
  EXPECT_EQ(lines[0].at("event").as_string(), "refused_connect");
  EXPECT_EQ(counters_.Value(R"(moat_sessions_ended_total{listener="test",reason="refused"})"), 1);
}

}  // namespace
}  // namespace moat::proxy::test
