// Admission with the client played by the test (StubStream) and an upstream the test
// controls: who gets in, what each refused client is told in its protocol version, what
// is counted, and that the CONNECT (and nothing before it) reaches the broker.
#include "proxy/session/admission.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <iterator>

#include "policy/credentials/password_file.h"
#include "proxy/audit_log.h"
#include "proxy/auth/auth_services.h"
#include "proxy/session/session_report.h"
#include "proxy/upstream.h"
#include "tests/file_reading/temp_dir.h"
#include "tests/proxy/session_fixture.h"
#include "tests/proxy/stub_stream.h"

namespace moat::proxy::test {
namespace {

namespace asio = boost::asio;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

// Hands out a StubStream per connection, or refuses like a broker that is down.
class StubUpstream final : public Upstream {
 public:
  explicit StubUpstream(asio::io_context& io) : io_(io) {}
  asio::awaitable<std::unique_ptr<net::ByteStream>> Connect(
      const UpstreamRequest& /*request*/) const override {
    ++connects;
    if (refuse && (refuse_for < 0 || connects <= refuse_for)) {
      throw boost::system::system_error(asio::error::connection_refused);
    }
    auto stream = std::make_unique<StubStream>(io_);
    last = stream.get();
    co_return stream;
  }
  bool refuse = false;
  int refuse_for = -1;  // refuse this many attempts (-1: all)
  mutable int connects = 0;
  mutable StubStream* last = nullptr;

 private:
  asio::io_context& io_;
};

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest() {
    config_.auth.allow_anonymous = true;
    config_.auth.failure_delay = std::chrono::milliseconds(0);
  }

  void UsePasswordFile() {
    auto entry = policy::MakePbkdf2Entry("alice", "right", /*iterations=*/1);
    ASSERT_TRUE(entry.ok()) << entry.status();
    config_.auth.password_file = dir_.Write("passwd", policy::FormatEntry(*entry) + "\n");
    config_.auth.allow_anonymous = false;
  }

  // Runs admission to its end with the client having sent `bytes`.
  AdmissionResult Admit(const std::vector<uint8_t>& bytes) {
    if (shared_auth_) {
      auth_ = std::move(shared_auth_);
    } else {
      auto auth = AuthServices::Create(config_);
      EXPECT_TRUE(auth.ok()) << auth.status();
      auth_ = std::move(auth).value();
    }
    client_.Send(bytes);
    PreauthMemory memory(config_.limits.max_preauth_memory);
    PreauthQueue preauth(memory, *counters_.thread);
    const AdmissionServices services{config_,
                                     authorizer_,
                                     upstream_,
                                     *auth_,
                                     clock_,
                                     preauth,
                                     *auth_->authenticator,
                                     auth_->upstream_password};
    Admission admission(client_, decoder_, identity_, services, report_,
                        clock_.Now() + config_.limits.connect_timeout);
    std::optional<AdmissionResult> result;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { result.emplace(co_await admission.Run()); },
        [](std::exception_ptr error) { EXPECT_FALSE(error); });
    for (int i = 0; i < 500 && !result; ++i) {
      io_.restart();
      io_.run_one_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(result.has_value()) << "admission never ended";
    return result ? std::move(*result) : AdmissionResult{Refusal{EndReason::kIoError, "hung"}};
  }

  // Admits `connect` with the decoder at the CONNECT limit, as sessions do.
  AdmissionResult AdmitAtConnectLimit(const std::vector<uint8_t>& bytes) {
    decoder_.set_max_packet_size(config_.limits.max_connect_packet_size);
    return Admit(bytes);
  }

  std::vector<uint8_t> Connect(ProtocolVersion version,
                               std::optional<std::string_view> user = std::nullopt,
                               std::optional<std::string_view> password = std::nullopt) {
    mqtt::Connect connect = MakeConnect(version);
    connect.username = user;
    connect.password = password;
    return Bytes(connect, version);
  }
  std::vector<uint8_t> Connack(ProtocolVersion version, uint8_t code) {
    return Bytes(mqtt::Connack{false, code, {}}, version);
  }

  asio::io_context io_;
  StubStream client_{io_};
  mqtt::Decoder decoder_{{mqtt::Direction::kClientToServer, 1024 * 1024}};
  config::Config config_;
  moat::test::TempDir dir_;
  std::unique_ptr<AuthServices> auth_;
  std::unique_ptr<AuthServices> shared_auth_;  // set up by the test instead of per Admit
  std::shared_ptr<const policy::Authorizer> authorizer_ = NoSecretsAuthorizer();
  StubUpstream upstream_{io_};
  FakeClock clock_;
  Counters counters_;
  policy::ClientIdentity identity_ = MakeIdentity("", "");
  SessionReport report_{*counters_.thread, metrics::ListenerId{0}, identity_};
};

TEST_F(AdmissionTest, AnAdmittedClientsConnectReachesTheBrokerAsItCame) {
  // An MQTT 5 client that already asks for no more than moat takes from the broker.
  mqtt::Connect packet = MakeConnect(ProtocolVersion::kV5);
  packet.properties.AddInteger(mqtt::PropertyId::kMaximumPacketSize, 4096);
  const auto connect = Bytes(packet, ProtocolVersion::kV5);
  AdmissionResult result = Admit(connect);
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  const AdmittedLink& link = std::get<AdmittedLink>(result);
  EXPECT_EQ(link.version, ProtocolVersion::kV5);
  ASSERT_NE(upstream_.last, nullptr);
  EXPECT_EQ(upstream_.last->written(), connect);
  EXPECT_TRUE(client_.written().empty());  // the CONNACK is the broker's to send
  EXPECT_EQ(identity_.client_id, "sensor-1");
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="accepted"})"), 1);
}

// limits.max_packet_size reaches an MQTT 5 broker as the client's Maximum Packet Size.
class BrokerPacketLimitTest : public AdmissionTest,
                              public ::testing::WithParamInterface<std::optional<uint32_t>> {};

TEST_P(BrokerPacketLimitTest, TheBrokerLearnsTheLargestPacketMoatTakesFromIt) {
  config_.limits.max_packet_size = 65536;
  mqtt::Connect packet = MakeConnect(ProtocolVersion::kV5);
  if (GetParam()) packet.properties.AddInteger(mqtt::PropertyId::kMaximumPacketSize, *GetParam());
  AdmissionResult result = Admit(Bytes(packet, ProtocolVersion::kV5));
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  ASSERT_NE(upstream_.last, nullptr);
  mqtt::Connect expected = MakeConnect(ProtocolVersion::kV5);
  expected.properties.AddInteger(mqtt::PropertyId::kMaximumPacketSize, 65536);
  EXPECT_EQ(upstream_.last->written(), Bytes(expected, ProtocolVersion::kV5));
}

INSTANTIATE_TEST_SUITE_P(NoneOrLarger, BrokerPacketLimitTest,
                         ::testing::Values(std::nullopt, std::optional<uint32_t>(1u << 20)));

TEST_F(AdmissionTest, A311ConnectHasNoPacketLimitToTellAndIsUntouched) {
  config_.limits.max_packet_size = 65536;
  const auto connect = Connect(ProtocolVersion::kV311);
  AdmissionResult result = Admit(connect);
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  ASSERT_NE(upstream_.last, nullptr);
  EXPECT_EQ(upstream_.last->written(), connect);
}

TEST_F(AdmissionTest, WhatTheClientSentAfterItsConnectStaysForTheRelay) {
  const auto publish = Bytes(MakePublish("plant/a", "early"), ProtocolVersion::kV311);
  AdmissionResult result = Admit(Cat({Connect(ProtocolVersion::kV311), publish}));
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  EXPECT_EQ(decoder_.buffered(), publish.size());
  EXPECT_EQ(upstream_.last->written(), Connect(ProtocolVersion::kV311));
}

TEST_F(AdmissionTest, TheRightPasswordGetsInAndIsRemembered) {
  UsePasswordFile();
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV311, "alice", "right"));
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  EXPECT_TRUE(std::get<AdmittedLink>(result).credential_fingerprint.has_value());
  EXPECT_EQ(identity_.username, "alice");
}

TEST_F(AdmissionTest, AnAdmittedLoginIsAuditedWithHowItProvedItself) {
  UsePasswordFile();
  auto log = AuditLog::Open(dir_.File("audit.log"), 20, 100);
  ASSERT_TRUE(log.ok()) << log.status();
  AuditLog::Set(log->get());
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV5, "alice", "right"));
  AuditLog::Set(nullptr);
  log->reset();
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  std::ifstream in(dir_.File("audit.log"));
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  EXPECT_NE(text.find(R"("event":"session_admitted")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("identity":"alice","auth":"password")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("mqtt_version":"5")"), std::string::npos) << text;
  EXPECT_EQ(text.find("tls_"), std::string::npos) << text;   // a plain link
  EXPECT_EQ(text.find("right"), std::string::npos) << text;  // never the password
}

TEST_F(AdmissionTest, AWrongPasswordIsRefusedInEachVersionsWordsAndCounted) {
  UsePasswordFile();
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV5, "alice", "wrong"));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kRefused);
  EXPECT_EQ(std::get<Refusal>(result).detail, "bad_credentials");
  EXPECT_EQ(client_.written(), Connack(ProtocolVersion::kV5,
                                       static_cast<uint8_t>(ReasonCode::kBadUserNameOrPassword)));
  EXPECT_EQ(upstream_.connects, 0);
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="bad_credentials"})"), 1);
  EXPECT_EQ(
      counters_.Value(
          R"(moat_denials_total{action="connect",reason="bad_credentials",mode="enforce",rule="default"})"),
      1);
}

TEST_F(AdmissionTest, AnonymousClientsAreRefusedUnlessAllowed) {
  config_.auth.allow_anonymous = false;
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV311));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(client_.written(),
            Connack(ProtocolVersion::kV311,
                    static_cast<uint8_t>(mqtt::ConnectReturnCode::kNotAuthorized)));
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="not_authorized"})"), 1);
}

TEST_F(AdmissionTest, AWillTheClientMayNotPublishRefusesTheConnectBeforeTheBrokerSeesIt) {
  mqtt::Connect connect = MakeConnect(ProtocolVersion::kV311);
  mqtt::Will will;
  will.qos = 1;
  will.topic = "secret/last-words";
  will.payload = "bye";
  connect.will = will;
  AdmissionResult result = Admit(Bytes(connect, ProtocolVersion::kV311));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).detail, "not_authorized");
  EXPECT_EQ(client_.written(),
            Connack(ProtocolVersion::kV311,
                    static_cast<uint8_t>(mqtt::ConnectReturnCode::kNotAuthorized)));
  EXPECT_EQ(upstream_.connects, 0);
  EXPECT_EQ(
      counters_.Value(
          R"(moat_denials_total{action="will",reason="deny_rule",mode="enforce",rule="default"})"),
      1);
}

TEST_F(AdmissionTest, AWillTopicOverTheTopicLimitsIsRefusedWithTopicNameInvalid) {
  config_.limits.session.max_topic_levels = 2;
  mqtt::Connect connect = MakeConnect(ProtocolVersion::kV5);
  mqtt::Will will;
  will.topic = "a/b/c";
  will.payload = "bye";
  connect.will = will;
  AdmissionResult result = Admit(Bytes(connect, ProtocolVersion::kV5));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(client_.written(),
            Connack(ProtocolVersion::kV5, static_cast<uint8_t>(ReasonCode::kTopicNameInvalid)));
  EXPECT_EQ(upstream_.connects, 0);
  EXPECT_EQ(
      counters_.Value(
          R"(moat_denials_total{action="will",reason="topic_levels",mode="enforce",rule="default"})"),
      1);
}

TEST_F(AdmissionTest, ABrokerThatIsDownGetsConnack88WhenConfiguredSo) {
  config_.upstream.on_unavailable = config::UpstreamUnavailable::kConnack;
  config_.upstream.unavailable_wait = std::chrono::milliseconds(0);
  upstream_.refuse = true;
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV5));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kUpstreamUnavailable);
  EXPECT_EQ(client_.written(),
            Connack(ProtocolVersion::kV5, static_cast<uint8_t>(ReasonCode::kServerUnavailable)));
  EXPECT_EQ(counters_.Value(R"(moat_upstream_errors_total{reason="refused"})"), 1);
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="upstream_unavailable"})"), 1);
}

// By default the client sees what a dead broker shows it: no CONNACK, a closed link,
// which every client library retries.
TEST_F(AdmissionTest, ABrokerThatIsDownClosesWithoutConnackByDefault) {
  config_.upstream.unavailable_wait = std::chrono::milliseconds(0);
  upstream_.refuse = true;
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV311));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kUpstreamUnavailable);
  EXPECT_TRUE(client_.written().empty());
  EXPECT_EQ(upstream_.connects, 1);
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="upstream_unavailable"})"), 1);
}

// Held while no broker answers, retried, and admitted once one does, within the wait.
TEST_F(AdmissionTest, AShortOutageIsHeldAndRetried) {
  config_.upstream.unavailable_wait = std::chrono::seconds(3);
  upstream_.refuse = true;
  upstream_.refuse_for = 2;  // the third attempt finds the broker back
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV311));
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  EXPECT_EQ(upstream_.connects, 3);
  EXPECT_TRUE(client_.written().empty());  // the CONNACK is the broker's, via the relay
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="upstream_unavailable"})"), 0);
}

TEST_F(AdmissionTest, NothingButAConnectMayComeFirstAndItIsNotAnswered) {
  AdmissionResult result =
      Admit(Bytes(MakePublish("plant/a", "too early"), ProtocolVersion::kV311));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kMalformedFromClient);
  EXPECT_EQ(std::get<Refusal>(result).detail, "packet_before_connect");
  EXPECT_TRUE(client_.written().empty());
  EXPECT_EQ(upstream_.connects, 0);
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="malformed"})"), 1);
}

TEST_F(AdmissionTest, AProtocolLevelMoatDoesNotSpeakGetsTheV311Answer) {
  // CONNECT "MQTT" level 6, clean start, keep-alive 60, client id "a" [MQTT-3.1.2-2].
  const std::vector<uint8_t> level6 = {0x10, 0x0D, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                       0x06, 0x02, 0x00, 0x3C, 0x00, 0x01, 'a'};
  AdmissionResult result = Admit(level6);
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(client_.written(),
            Connack(ProtocolVersion::kV311,
                    static_cast<uint8_t>(mqtt::ConnectReturnCode::kUnacceptableProtocolVersion)));
}

TEST_F(AdmissionTest, AClientThatSendsNothingIsEndedAtTheConnectTimeout) {
  config_.limits.connect_timeout = std::chrono::milliseconds(1);
  AdmissionResult result = Admit({});
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kConnectTimeout);
  EXPECT_EQ(counters_.Value(R"(moat_connect_total{result="timeout"})"), 1);
}

TEST_F(AdmissionTest, AClientThatLeavesBeforeItsConnectEndsAsClosed) {
  client_.SendEnd();
  AdmissionResult result = Admit({});
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kClientClosed);
}

// ---- What hostile clients cannot do before logging in ----------------------------------

TEST_F(AdmissionTest, AnOversizedConnectIsRefusedFromItsFixedHeaderInTheClientsVersion) {
  config_.limits.max_connect_packet_size = 1024;
  // A v5 CONNECT announcing 16 MiB, of which only the start has come.
  const std::vector<uint8_t> start = {0x10, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x04,
                                      'M',  'Q',  'T',  'T',  0x05, 0x02};
  AdmissionResult result = AdmitAtConnectLimit(start);
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).detail, "packet_too_large");
  EXPECT_EQ(client_.written(),
            Connack(ProtocolVersion::kV5, static_cast<uint8_t>(ReasonCode::kPacketTooLarge)));
  EXPECT_EQ(
      counters_.Value(
          R"(moat_malformed_packets_total{direction="client_to_broker",reason="packet_too_large"})"),
      1);
}

TEST_F(AdmissionTest, AnOversizedOlderConnectIsClosedUnanswered) {
  config_.limits.max_connect_packet_size = 1024;
  const std::vector<uint8_t> start = {0x10, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x04,
                                      'M',  'Q',  'T',  'T',  0x04, 0x02};
  AdmissionResult result = AdmitAtConnectLimit(start);
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_TRUE(client_.written().empty());  // 3.1.1 has no code for it
}

TEST_F(AdmissionTest, AClientIdHeldByAnotherIdentityIsNotTakenOver) {
  UsePasswordFile();
  auto bob = policy::MakePbkdf2Entry("bob", "bobs", 1);
  ASSERT_TRUE(bob.ok());
  config_.auth.password_file =
      dir_.Write("passwd", policy::FormatEntry(*policy::MakePbkdf2Entry("alice", "right", 1)) +
                               "\n" + policy::FormatEntry(*bob) + "\n");
  auto auth = AuthServices::Create(config_);
  ASSERT_TRUE(auth.ok());
  ASSERT_TRUE(auth.value()->client_ids.Claim("sensor-1", ClientIds::IdentityKey("bob", ""), true));
  shared_auth_ = std::move(auth).value();
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV5, "alice", "right"));
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).detail, "client_id_taken");
  EXPECT_EQ(
      client_.written(),
      Connack(ProtocolVersion::kV5, static_cast<uint8_t>(ReasonCode::kClientIdentifierNotValid)));
  EXPECT_EQ(upstream_.connects, 0);
}

TEST_F(AdmissionTest, AnAdmissionOverThePreauthBudgetIsClosed) {
  config_.limits.max_preauth_memory = 1024;  // less than one read buffer
  const std::vector<uint8_t> start = {0x10, 0xFF, 0x7F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04};
  AdmissionResult result = Admit(start);
  ASSERT_TRUE(std::holds_alternative<Refusal>(result));
  EXPECT_EQ(std::get<Refusal>(result).reason, EndReason::kPreauthMemory);
  EXPECT_TRUE(client_.closed());
  EXPECT_EQ(
      counters_.Value(R"(moat_connections_refused_total{listener="test",reason="preauth_memory"})"),
      1);
  EXPECT_EQ(counters_.Value("moat_preauth_memory_bytes"), 0);  // given back
}

TEST_F(AdmissionTest, NoKeepAliveIsHeldToTheCap) {
  config_.limits.max_keepalive = std::chrono::seconds(90);
  AdmissionResult result = Admit(Connect(ProtocolVersion::kV311));
  ASSERT_TRUE(std::holds_alternative<AdmittedLink>(result));
  EXPECT_EQ(std::get<AdmittedLink>(result).keep_alive.interval(), std::chrono::seconds(90));
}

}  // namespace
}  // namespace moat::proxy::test
