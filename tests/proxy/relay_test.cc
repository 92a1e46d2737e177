// The relay with both peers played by the test (StubStream): every packet goes through
// as the bytes that came, partial writes and EAGAIN lose and reorder nothing, a direction
// reads nothing more while its output is stuck, and each way a session can end closes
// the right link the right way and tells the owner once.
#include "proxy/session/relay.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxy/mqtt/decoder.h"
#include "proxy/session/session_report.h"
#include "tests/proxy/session_fixture.h"
#include "tests/proxy/stub_stream.h"

namespace moat::proxy::test {
namespace {

using mqtt::Direction;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;
using net::Want;
using std::chrono::seconds;

constexpr uint32_t kMaxPacketSize = 1024 * 1024;
constexpr std::chrono::milliseconds kWriteTimeout{60'000};

class RecordingOwner final : public RelayOwner {
 public:
  void RelayEnded(EndReason why, std::string_view what) override {
    ++ends;
    reason = why;
    detail = std::string(what);
  }
  int ends = 0;
  std::optional<EndReason> reason;
  std::string detail;
};

class RelayTest : public ::testing::Test {
 protected:
  // Admits a client that sent CONNECT for `version` (and `after_connect` right behind
  // it) and starts the relay.
  // `silent_for`: how long the client has said nothing since its CONNECT.
  void Start(ProtocolVersion version, uint16_t keep_alive = 0,
             std::chrono::milliseconds drain_timeout = std::chrono::seconds(5),
             std::chrono::milliseconds silent_for = {}) {
    version_ = version;
    const mqtt::Connect connect = MakeConnect(version, keep_alive);
    mqtt::Decoder decoder({Direction::kClientToServer, kMaxPacketSize});
    decoder.Feed(Bytes(connect, version));
    ASSERT_TRUE(std::holds_alternative<mqtt::Frame>(decoder.Next()));
    env_.emplace(RelayEnvironment{authorizer_, clock_, drain_timeout, kMaxPacketSize, sweep_,
                                  stalls_, kWriteTimeout, on_rate_exceeded_});
    relay_.emplace(client_, std::move(decoder), broker_,
                   Enforcer(identity_, connect, config::DeniedPublish::kDrop), version,
                   KeepAlive(seconds(keep_alive), clock_.Now()), *env_, report_, owner_,
                   io_.get_executor());
    if (rates_) relay_->SetRates(*rates_);
    clock_.Advance(silent_for);
    relay_->Start();
    Poll();
  }
  std::vector<uint8_t> Encoded(const mqtt::Packet& packet) { return Bytes(packet, version_); }
  // Runs what is ready; an io_context that ran out of work needs a restart() first.
  void Poll() {
    io_.restart();
    io_.poll();
  }
  // The client sends `bytes`; the relay, waiting for it, is told.
  void ClientSends(const std::vector<uint8_t>& bytes) {
    client_.Send(bytes);
    client_.Fire(Want::kReadable);
    Poll();
  }
  void BrokerSends(const std::vector<uint8_t>& bytes) {
    broker_.Send(bytes);
    broker_.Fire(Want::kReadable);
    Poll();
  }

  boost::asio::io_context io_;
  StubStream client_{io_};
  StubStream broker_{io_};
  Counters counters_;
  policy::ClientIdentity identity_ = MakeIdentity("alice", "sensor-1");
  std::shared_ptr<const policy::Authorizer> authorizer_ = NoSecretsAuthorizer();
  SessionReport report_{*counters_.thread, metrics::ListenerId{0}, identity_};
  FakeClock clock_;
  RecordingOwner owner_;
  ShortReadSweep sweep_{io_.get_executor()};
  WriteStallWatch stalls_{io_.get_executor(), clock_};
  ProtocolVersion version_ = ProtocolVersion::kV311;
  std::optional<RelayEnvironment> env_;
  std::optional<Relay> relay_;
  std::optional<ClientRates> rates_;  // given to the relay at Start()
  config::RateExceeded on_rate_exceeded_ = config::RateExceeded::kThrottle;
};

// The first two PUBLISHes go at once, then one every 2 ms.
ClientRates BurstOfTwoThen500PerSecond() {
  return {{{.per_second = 500, .burst = 2}, "fast", 0}, {}};
}

TEST_F(RelayTest, AClientOverItsRateIsReadFromAgainOnlyOnceItsBucketRefills) {
  rates_ = BurstOfTwoThen500PerSecond();
  Start(ProtocolVersion::kV311);
  const auto one = Encoded(MakePublish("plant/a", "1"));
  ClientSends(Cat({one, one, one, one}));
  EXPECT_EQ(broker_.TakeWritten(), Cat({one, one}));
  EXPECT_EQ(
      counters_.Value(
          R"(moat_denials_total{action="publish",reason="message_rate",mode="throttle",rule="default"})"),
      1);
  // Nothing more is read or decoded, whatever the client sends, until the time has come:
  // no wait for its input is even pending.
  client_.Send(one);
  Poll();
  EXPECT_TRUE(broker_.written().empty());

  clock_.Advance(std::chrono::milliseconds(3));  // one and a half tokens
  for (int i = 0; i < 100 && broker_.written().size() < one.size(); ++i) {
    io_.restart();
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(broker_.TakeWritten(), one);  // one token's worth, then held again
  EXPECT_EQ(counters_.Value(R"(moat_throttled_seconds_count{listener="test"})"), 1);
  EXPECT_EQ(owner_.ends, 0);
}

TEST_F(RelayTest, WhatTheBrokerSendsReachesAThrottledClient) {
  rates_ = BurstOfTwoThen500PerSecond();
  Start(ProtocolVersion::kV311);
  const auto one = Encoded(MakePublish("plant/a", "1"));
  ClientSends(Cat({one, one, one}));
  ASSERT_EQ(broker_.TakeWritten(), Cat({one, one}));
  const auto delivery = Encoded(MakePublish("plant/b", "for you"));
  BrokerSends(delivery);
  EXPECT_EQ(client_.TakeWritten(), delivery);
}

TEST_F(RelayTest, AClientOverItsRateIsDisconnectedWhenSoConfigured) {
  rates_ = BurstOfTwoThen500PerSecond();
  on_rate_exceeded_ = config::RateExceeded::kDisconnect;
  Start(ProtocolVersion::kV5);
  const auto one = Encoded(MakePublish("plant/a", "1"));
  ClientSends(Cat({one, one, one}));
  EXPECT_EQ(broker_.TakeWritten(), Cat({one, one}));
  EXPECT_EQ(owner_.reason, EndReason::kRefused);
  EXPECT_EQ(client_.TakeWritten(),
            Encoded(mqtt::Disconnect{static_cast<uint8_t>(ReasonCode::kMessageRateTooHigh), {}}));
  EXPECT_EQ(
      counters_.Value(
          R"(moat_denials_total{action="publish",reason="message_rate",mode="enforce",rule="default"})"),
      1);
}

TEST_F(RelayTest, ForwardsEachPacketAsTheBytesThatCameInBothDirections) {
  Start(ProtocolVersion::kV311);
  const auto two_publishes =
      Cat({Encoded(MakePublish("plant/a", "1")), Encoded(MakePublish("plant/b", "22"))});
  ClientSends(two_publishes);
  EXPECT_EQ(broker_.TakeWritten(), two_publishes);

  const auto delivery = Encoded(MakePublish("plant/c", "333"));
  BrokerSends(delivery);
  EXPECT_EQ(client_.TakeWritten(), delivery);
  EXPECT_EQ(counters_.Value(R"(moat_packets_total{direction="client_to_broker",type="publish"})"),
            2);
  EXPECT_EQ(counters_.Value(R"(moat_packets_total{direction="broker_to_client",type="publish"})"),
            1);
  EXPECT_EQ(owner_.ends, 0);
}

TEST_F(RelayTest, APacketSplitAcrossReadsGoesOnOnceWhole) {
  Start(ProtocolVersion::kV311);
  const auto publish = Encoded(MakePublish("plant/a", "payload"));
  ClientSends({publish.begin(), publish.begin() + 4});
  EXPECT_TRUE(broker_.written().empty());
  ClientSends({publish.begin() + 4, publish.end()});
  EXPECT_EQ(broker_.TakeWritten(), publish);
}

TEST_F(RelayTest, PartialWritesLoseAndReorderNothing) {
  Start(ProtocolVersion::kV311);
  broker_.set_write_room(5);
  const auto first =
      Cat({Encoded(MakePublish("plant/a", "first")), Encoded(MakePublish("plant/b", "second"))});
  ClientSends(first);
  EXPECT_EQ(broker_.written().size(), 5u);
  ASSERT_TRUE(broker_.awaiting(Want::kWritable));

  broker_.set_write_room(7);
  broker_.Fire(Want::kWritable);
  Poll();
  EXPECT_EQ(broker_.written().size(), 12u);

  broker_.set_write_room(SIZE_MAX);
  broker_.Fire(Want::kWritable);
  Poll();
  EXPECT_EQ(broker_.TakeWritten(), first);
}

TEST_F(RelayTest, ADirectionReadsNothingMoreWhileItsOutputIsStuck) {
  Start(ProtocolVersion::kV311);
  broker_.set_write_room(0);
  const auto publish = Encoded(MakePublish("plant/a", std::string(1000, 'x')));
  std::vector<uint8_t> flood;
  for (int i = 0; i < 200; ++i) flood.insert(flood.end(), publish.begin(), publish.end());
  ClientSends(flood);
  const size_t reads = client_.reads();
  const size_t unread = client_.unread();
  // One chunk was read; the rest stays with the peer (in the kernel, for a real socket).
  EXPECT_EQ(flood.size() - unread, net::kReadChunkSize);
  EXPECT_FALSE(client_.awaiting(Want::kReadable));
  Poll();
  EXPECT_EQ(client_.reads(), reads);

  // The other direction is not held back by it.
  const auto delivery = Encoded(MakePublish("plant/c", "3"));
  BrokerSends(delivery);
  EXPECT_EQ(client_.TakeWritten(), delivery);

  broker_.set_write_room(SIZE_MAX);
  broker_.Fire(Want::kWritable);
  for (int i = 0; i < 100 && client_.unread() > 0; ++i) Poll();
  EXPECT_EQ(client_.unread(), 0u);
  EXPECT_EQ(broker_.TakeWritten(), flood);
}

TEST_F(RelayTest, WouldBlockOnReadWaitsWithoutSpinning) {
  Start(ProtocolVersion::kV311);
  ASSERT_TRUE(client_.awaiting(Want::kReadable));
  const size_t reads = client_.reads();
  Poll();
  Poll();
  EXPECT_EQ(client_.reads(), reads);
}

TEST_F(RelayTest, AClientThatVanishesMidPacketDropsTheBrokerLinkSoTheWillIsPublished) {
  Start(ProtocolVersion::kV311);
  const auto publish = Encoded(MakePublish("plant/a", "payload"));
  client_.Send({publish.begin(), publish.begin() + 5});
  client_.SendEnd();
  client_.Fire(Want::kReadable);
  Poll();
  // The read was short: the relay waits without reading the FIN behind the data, which
  // no readiness edge will announce again. The sweep makes it look.
  EXPECT_EQ(owner_.ends, 0);
  sweep_.Sweep();
  Poll();
  EXPECT_TRUE(broker_.written().empty());
  EXPECT_TRUE(broker_.closed());
  EXPECT_FALSE(broker_.shut_down());
  EXPECT_TRUE(client_.closed());
  EXPECT_EQ(owner_.ends, 1);
  EXPECT_EQ(owner_.reason, EndReason::kClientClosed);
}

TEST_F(RelayTest, ADisconnectFromTheClientGoesOnAndClosesTheBrokerLinkGracefully) {
  Start(ProtocolVersion::kV311);
  const auto disconnect = Encoded(mqtt::Disconnect{});
  ClientSends(disconnect);
  EXPECT_EQ(broker_.TakeWritten(), disconnect);
  EXPECT_TRUE(broker_.shut_down());
  EXPECT_EQ(owner_.ends, 1);
  EXPECT_EQ(owner_.reason, EndReason::kClientDisconnected);
}

TEST_F(RelayTest, AMalformedPacketEndsTheSessionAfterWhatCameBeforeIt) {
  Start(ProtocolVersion::kV5);
  const auto publish = Encoded(MakePublish("plant/a", "ok"));
  const std::vector<uint8_t> reserved_type = {0x00, 0x00};
  ClientSends(Cat({publish, reserved_type}));
  EXPECT_EQ(broker_.TakeWritten(), publish);
  const uint8_t code =
      static_cast<uint8_t>(mqtt::ReasonCodeFor(mqtt::DecodeError::kReservedPacketType));
  EXPECT_EQ(client_.TakeWritten(), Bytes(mqtt::Disconnect{code, {}}, ProtocolVersion::kV5));
  EXPECT_TRUE(client_.shut_down());
  EXPECT_EQ(owner_.reason, EndReason::kMalformedFromClient);
  EXPECT_EQ(owner_.detail, "reserved_packet_type");
  EXPECT_EQ(
      counters_.Value(
          R"(moat_malformed_packets_total{direction="client_to_broker",reason="reserved_packet_type"})"),
      1);
}

TEST_F(RelayTest, AMalformedPacketFromTheBrokerTellsTheClientOnlyThatTheServerFailed) {
  Start(ProtocolVersion::kV5);
  BrokerSends({0x30, 0x00});  // a PUBLISH too short to hold its topic
  EXPECT_EQ(
      client_.TakeWritten(),
      Bytes(mqtt::Disconnect{static_cast<uint8_t>(ReasonCode::kImplementationSpecificError), {}},
            ProtocolVersion::kV5));
  EXPECT_EQ(owner_.reason, EndReason::kMalformedFromBroker);
}

TEST_F(RelayTest, ADeniedPublishIsWithheldAnsweredAndCounted) {
  Start(ProtocolVersion::kV5);
  ClientSends(Encoded(MakePublish("secret/plans", "x", 1, 7)));
  EXPECT_TRUE(broker_.written().empty());
  EXPECT_EQ(client_.TakeWritten(),
            Encoded(mqtt::Puback{7, static_cast<uint8_t>(ReasonCode::kNotAuthorized), {}}));
  EXPECT_EQ(
      counters_.Value(
          R"(moat_denials_total{action="publish",reason="deny_rule",mode="enforce",rule="default"})"),
      1);
  EXPECT_EQ(owner_.ends, 0);
}

TEST_F(RelayTest, AnErrorOnEitherLinkEndsTheSession) {
  Start(ProtocolVersion::kV311);
  broker_.FailNextRead(boost::asio::error::connection_reset);
  broker_.Fire(Want::kReadable);
  Poll();
  EXPECT_EQ(owner_.reason, EndReason::kIoError);
  EXPECT_TRUE(client_.closed());
  EXPECT_FALSE(client_.shut_down());  // nobody to say goodbye to on the broker's behalf
}

TEST_F(RelayTest, ASilentClientIsCutOffAfterOneAndAHalfKeepAlives) {
  Start(ProtocolVersion::kV5, /*keep_alive=*/10, std::chrono::seconds(5),
        /*silent_for=*/std::chrono::seconds(15));
  EXPECT_EQ(owner_.reason, EndReason::kKeepAliveTimeout);
  EXPECT_EQ(client_.TakeWritten(),
            Encoded(mqtt::Disconnect{static_cast<uint8_t>(ReasonCode::kKeepAliveTimeout), {}}));
  EXPECT_TRUE(broker_.closed());
  EXPECT_FALSE(broker_.shut_down());  // dropped: the broker publishes the Will
}

TEST_F(RelayTest, AClientWithinItsKeepAliveIsLeftAlone) {
  Start(ProtocolVersion::kV5, /*keep_alive=*/10, std::chrono::seconds(5),
        /*silent_for=*/std::chrono::seconds(14));
  EXPECT_EQ(owner_.ends, 0);
}

TEST_F(RelayTest, TheBrokersServerKeepAliveIsTheOneEnforced) {
  Start(ProtocolVersion::kV5, /*keep_alive=*/0);
  clock_.Advance(std::chrono::seconds(8));
  mqtt::Connack connack;
  connack.properties.AddInteger(mqtt::PropertyId::kServerKeepAlive, 5);
  BrokerSends(Encoded(connack));
  // Silent for 8 s against a granted 5: overdue since 7.5 s.
  EXPECT_EQ(owner_.reason, EndReason::kKeepAliveTimeout);
  const auto written = client_.TakeWritten();
  const auto goodbye =
      Encoded(mqtt::Disconnect{static_cast<uint8_t>(ReasonCode::kKeepAliveTimeout), {}});
  ASSERT_GE(written.size(), goodbye.size());
  EXPECT_TRUE(std::equal(goodbye.begin(), goodbye.end(), written.end() - goodbye.size()));
}

TEST_F(RelayTest, ShutdownTellsMqtt5ClientsAndWritesOutWhatIsQueued) {
  Start(ProtocolVersion::kV5);
  client_.set_write_room(3);
  const auto delivery = Encoded(MakePublish("plant/a", "last words"));
  BrokerSends(delivery);
  relay_->Stop(EndReason::kShutdown, ReasonCode::kServerShuttingDown);
  Poll();
  EXPECT_EQ(owner_.ends, 0);  // still writing
  client_.set_write_room(SIZE_MAX);
  client_.Fire(Want::kWritable);
  Poll();
  EXPECT_EQ(client_.TakeWritten(),
            Cat({delivery, Encoded(mqtt::Disconnect{
                               static_cast<uint8_t>(ReasonCode::kServerShuttingDown), {}})}));
  EXPECT_EQ(owner_.ends, 1);
  EXPECT_EQ(owner_.reason, EndReason::kShutdown);
}

TEST_F(RelayTest, APeerThatNeverReadsIsClosedWhenTheDrainTimeRunsOut) {
  Start(ProtocolVersion::kV5, 0, /*drain_timeout=*/std::chrono::milliseconds(0));
  client_.set_write_room(0);
  relay_->Stop(EndReason::kShutdown, ReasonCode::kServerShuttingDown);
  for (int i = 0; i < 100 && owner_.ends == 0; ++i) {
    io_.restart();
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(owner_.ends, 1);
  EXPECT_TRUE(client_.closed());
}

TEST_F(RelayTest, TheFirstReasonGivenIsTheOneReported) {
  Start(ProtocolVersion::kV311);
  client_.set_write_room(0);
  BrokerSends(Encoded(MakePublish("plant/a", "x")));
  relay_->Stop(EndReason::kRevoked);
  relay_->Stop(EndReason::kShutdown);
  relay_->Abort();
  Poll();
  EXPECT_EQ(owner_.ends, 1);
  EXPECT_EQ(owner_.reason, EndReason::kRevoked);
}

TEST_F(RelayTest, APolicyReloadUnsubscribesWhatIsNoLongerGranted) {
  Start(ProtocolVersion::kV311);
  mqtt::Subscribe subscribe{1, {}, {{.filter = "plant/#"}}};
  ClientSends(Encoded(subscribe));
  broker_.TakeWritten();
  authorizer_ = policy::MakeAllowAllAuthorizer();
  relay_->PolicyChanged(config::DeniedPublish::kDrop);
  EXPECT_TRUE(broker_.written().empty());  // still granted

  class DenyAll final : public policy::Authorizer {
    policy::Decision AuthorizeConnect(const policy::ClientIdentity&) const override { return {}; }
    policy::Decision MayPublish(const policy::ClientIdentity&, std::string_view, uint8_t,
                                bool) const override {
      return {};
    }
    policy::Decision MaySubscribe(const policy::ClientIdentity&, std::string_view,
                                  uint8_t) const override {
      return {};
    }
    policy::Decision MayReceive(const policy::ClientIdentity&, std::string_view) const override {
      return {};
    }
  };
  authorizer_ = std::make_shared<DenyAll>();
  relay_->PolicyChanged(config::DeniedPublish::kDrop);
  const auto written = broker_.TakeWritten();
  auto decoded = mqtt::DecodeOne(written, Direction::kClientToServer, ProtocolVersion::kV311);
  ASSERT_TRUE(std::holds_alternative<mqtt::Frame>(decoded));
  const auto& unsubscribe = std::get<mqtt::Unsubscribe>(std::get<mqtt::Frame>(decoded).packet);
  ASSERT_EQ(unsubscribe.filters.size(), 1u);
  EXPECT_EQ(unsubscribe.filters[0], "plant/#");
}

TEST_F(RelayTest, TheSweepCostsAnIdleRelayOneReadAndThenLeavesItAlone) {
  Start(ProtocolVersion::kV311);
  ClientSends(Encoded(MakePublish("plant/a", "1")));
  const size_t reads = client_.reads();
  sweep_.Sweep();
  Poll();
  EXPECT_EQ(client_.cancels(), 1u);
  EXPECT_EQ(client_.reads(), reads + 1);  // EAGAIN: now the wait is a sure one
  ASSERT_TRUE(client_.awaiting(Want::kReadable));
  sweep_.Sweep();
  Poll();
  EXPECT_EQ(client_.cancels(), 1u);
  EXPECT_EQ(client_.reads(), reads + 1);
  EXPECT_EQ(owner_.ends, 0);
}

TEST_F(RelayTest, APeerThatTakesNothingForTheWriteTimeoutIsClosed) {
  Start(ProtocolVersion::kV5);
  client_.set_write_room(0);
  BrokerSends(Encoded(MakePublish("plant/a", "for a client that never reads")));
  ASSERT_TRUE(client_.awaiting(Want::kWritable));
  clock_.Advance(kWriteTimeout - std::chrono::milliseconds(1));
  stalls_.Check();
  Poll();
  EXPECT_EQ(owner_.ends, 0);
  clock_.Advance(std::chrono::milliseconds(1));
  stalls_.Check();
  Poll();
  EXPECT_EQ(owner_.reason, EndReason::kWriteTimeout);
  EXPECT_EQ(owner_.detail, "the client reads nothing");
  EXPECT_TRUE(broker_.closed());
  EXPECT_FALSE(broker_.shut_down());  // dropped: the broker publishes the Will
}

TEST_F(RelayTest, APeerThatTakesBytesAgainIsNoLongerStalled) {
  Start(ProtocolVersion::kV5);
  client_.set_write_room(3);
  BrokerSends(Encoded(MakePublish("plant/a", "slowly")));
  clock_.Advance(kWriteTimeout - std::chrono::milliseconds(1));
  client_.set_write_room(3);
  client_.Fire(Want::kWritable);  // took three bytes: a new stall starts now
  Poll();
  clock_.Advance(std::chrono::milliseconds(10));
  stalls_.Check();
  Poll();
  EXPECT_EQ(owner_.ends, 0);
}

}  // namespace
}  // namespace moat::proxy::test
