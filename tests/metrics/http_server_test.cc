#include "metrics/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "tests/metrics/scrape_util.h"

namespace moat::metrics {
namespace {

using ::testing::EndsWith;
using testing::Get;
using ::testing::HasSubstr;
using testing::HttpResponse;
using ::testing::Not;
using ::testing::Optional;
using testing::RawConnection;
using testing::SampleValue;
using ::testing::StartsWith;
using namespace std::chrono_literals;

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::move(MetricsRegistry::Create({.listeners = {"main"}}).value());
    counters_ = &registry_->AddThread();
  }

  void StartServer(MetricsServerLimits limits = {}) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(
        "127.0.0.1", 0, *registry_,
        [this] {
          std::lock_guard lock(mutex_);
          return ReadinessReport{.problems = problems_, .note = note_};
        },
        limits);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    ASSERT_NE(server_->port(), 0);
  }

  void SetProblems(std::vector<std::string> problems, std::string note = "") {
    std::lock_guard lock(mutex_);
    problems_ = std::move(problems);
    note_ = std::move(note);
  }

  uint16_t port() const { return server_->port(); }

  std::unique_ptr<MetricsRegistry> registry_;
  ThreadCounters* counters_ = nullptr;
  std::unique_ptr<MetricsServer> server_;
  std::mutex mutex_;
  std::vector<std::string> problems_;
  std::string note_;
};

TEST_F(MetricsServerTest, ServesMetricsInTextFormat) {
  StartServer();
  counters_->Add<Metric::kDenialsTotal>(policy::Action::kConnect,
                                        policy::DenyReason::kBadCredentials, DenyMode::kEnforce,
                                        kNoRuleLabel, 2);
  const std::optional<HttpResponse> response = Get(port(), "/metrics");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_EQ(response->Header("content-length"), std::to_string(response->body.size()));
  EXPECT_THAT(
      SampleValue(
          response->body,
          R"(moat_denials_total{action="connect",reason="bad_credentials",mode="enforce",rule="default"})"),
      Optional(2.0));
  EXPECT_THAT(response->body, Not(HasSubstr("# EOF")));
  for (const MetricDef& def : kMetricTable) {
    EXPECT_THAT(response->body, HasSubstr("# TYPE " + std::string(def.name) + " ")) << def.name;
  }
}

TEST_F(MetricsServerTest, NegotiatesOpenMetrics) {
  StartServer();
  const std::optional<HttpResponse> response =
      Get(port(), "/metrics",
          "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_THAT(response->body, EndsWith("# EOF\n"));
  EXPECT_THAT(response->body, HasSubstr("# TYPE moat_denials counter\n"));
}

TEST_F(MetricsServerTest, IgnoresTheQueryString) {
  StartServer();
  const std::optional<HttpResponse> response = Get(port(), "/metrics?x=1");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(MetricsServerTest, HealthzIsOk) {
  StartServer();
  const std::optional<HttpResponse> response = Get(port(), "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
}

TEST_F(MetricsServerTest, ReadyzReportsEachProblem) {
  StartServer();
  std::optional<HttpResponse> response = Get(port(), "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ready");

  SetProblems({"upstream 127.0.0.1:1883 unreachable", "policy not loaded"});
  response = Get(port(), "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "upstream 127.0.0.1:1883 unreachable\npolicy not loaded\n");

  SetProblems({});
  response = Get(port(), "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(MetricsServerTest, ReadyzEndsWithTheNote) {
  StartServer();
  SetProblems({}, "upstream checked 0.4s ago");
  std::optional<HttpResponse> response = Get(port(), "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ready\nupstream checked 0.4s ago\n");

  SetProblems({"upstream 127.0.0.1:1883 unreachable: Connection refused"},
              "upstream checked 1.2s ago");
  response = Get(port(), "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body,
            "upstream 127.0.0.1:1883 unreachable: Connection refused\nupstream checked 1.2s ago\n");
}

TEST_F(MetricsServerTest, ReadyzWithoutCallbackIsReady) {
  auto server = MetricsServer::Start("127.0.0.1", 0, *registry_, nullptr);
  ASSERT_TRUE(server.ok());
  const std::optional<HttpResponse> response = Get((*server)->port(), "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(MetricsServerTest, UnknownPathIs404) {
  StartServer();
  for (const char* path : {"/", "/metrics/", "/metricsx", "/favicon.ico", "/../metrics"}) {
    const std::optional<HttpResponse> response = Get(port(), path);
    ASSERT_TRUE(response.has_value()) << path;
    EXPECT_EQ(response->status, 404) << path;
  }
}

TEST_F(MetricsServerTest, OnlyGetAndHeadAreAllowed) {
  StartServer();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    const std::optional<HttpResponse> response = Get(port(), "/metrics", "", method);
    ASSERT_TRUE(response.has_value()) << method;
    EXPECT_EQ(response->status, 405) << method;
    EXPECT_EQ(response->Header("allow"), "GET, HEAD");
  }
}

TEST_F(MetricsServerTest, HeadHasHeadersButNoBody) {
  StartServer();
  const std::optional<HttpResponse> response = Get(port(), "/healthz", "", "HEAD");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-length"), "2");
  EXPECT_EQ(response->body, "");
}

TEST_F(MetricsServerTest, RefusesOversizedHeaders) {
  StartServer();
  const std::string big = "X-Filler: " + std::string(9000, 'a') + "\r\n";
  const std::optional<HttpResponse> response = Get(port(), "/metrics", big);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
}

TEST_F(MetricsServerTest, RefusesGarbageAndBodies) {
  StartServer();
  std::optional<HttpResponse> response = testing::Exchange(port(), "HELLO\r\n\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  response = Get(port(), "/metrics", "Content-Length: 4\r\n");  // body never sent
  // A body is refused as soon as its length is announced, without waiting for it.
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
}

TEST_F(MetricsServerTest, SlowHeadersAreCutOffWithoutBlockingScrapes) {
  StartServer({.request_timeout = 3s});
  // Taken before the connection exists, so before the server's clock for it starts.
  const auto start = std::chrono::steady_clock::now();
  RawConnection slow(port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.Send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: a"));

  // Others are served while the slow client still holds its connection: no scrape waits
  // for it to finish or time out.
  for (int i = 0; i < 3; ++i) {
    const std::optional<HttpResponse> response = Get(port(), "/metrics");
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
  }
  // (A closed socket answers poll() at once; 10 ms only keeps the deadline above zero.)
  EXPECT_FALSE(slow.WaitForClose(10ms)) << "cut off before the other scrapes were served";

  // Then the slow client is closed without an answer, and not before the timeout.
  EXPECT_THAT(slow.ReadUntilClose(30s), Optional(std::string()));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(MetricsServerTest, DrippingHeadersDoNotExtendTheDeadline) {
  StartServer({.request_timeout = 400ms});
  RawConnection slow(port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.Send("GET /metrics HTTP/1.1\r\n"));
  // One header byte every 50 ms: each read makes progress, the request never ends. A
  // deadline that each read pushed back would never close it; 50 times the timeout is
  // long enough to tell, however busy the machine.
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() < give_up) {
    closed = !slow.Send("a") || slow.WaitForClose(50ms);
  }
  EXPECT_TRUE(closed);
}

TEST_F(MetricsServerTest, LimitsConcurrentConnections) {
  StartServer({.request_timeout = std::chrono::hours(1), .max_connections = 2});
  auto idle1 = std::make_unique<RawConnection>(port());
  auto idle2 = std::make_unique<RawConnection>(port());
  ASSERT_TRUE(idle1->connected() && idle2->connected());

  // The third is accepted after the two idle ones and closed unanswered, long before
  // its request timeout could close it.
  RawConnection third(port());
  ASSERT_TRUE(third.connected());
  third.Send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(third.ReadUntilClose(30s), Optional(std::string()));

  // Once the idle ones go away, scrapes work again.
  idle1.reset();
  idle2.reset();
  std::optional<HttpResponse> response;
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!(response = Get(port(), "/healthz")) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(MetricsServerTest, StopClosesOpenConnectionsPromptly) {
  // A request timeout no test outlives: only Stop() can close the idle connection.
  StartServer({.request_timeout = std::chrono::hours(1)});
  auto idle = std::make_unique<RawConnection>(port());
  ASSERT_TRUE(idle->connected());
  ASSERT_TRUE(Get(port(), "/healthz").has_value());  // the idle one has been accepted
  // Stop() runs on its own thread: were it to wait for the idle client instead of closing
  // it, the client leaving below lets it return, and the test fails rather than hangs.
  std::thread stopper([this] { server_->Stop(); });
  const bool closed_by_stop = idle->WaitForClose(30s);
  idle.reset();
  stopper.join();
  EXPECT_TRUE(closed_by_stop);
  server_->Stop();  // idempotent
  EXPECT_FALSE(RawConnection(port()).connected() && Get(port(), "/healthz").has_value());
}

TEST_F(MetricsServerTest, StartFailsOnABusyPort) {
  StartServer();
  auto second = MetricsServer::Start("127.0.0.1", port(), *registry_, nullptr);
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("127.0.0.1"));
}

TEST_F(MetricsServerTest, StartFailsOnAnAddressThisHostDoesNotHave) {
  // A documentation address: binding fails at once, and no name lookup leaves the host.
  auto server = MetricsServer::Start("192.0.2.1", 0, *registry_, nullptr);
  EXPECT_FALSE(server.ok());
}

TEST_F(MetricsServerTest, AcceptsBracketedIpv6) {
  auto server = MetricsServer::Start("[::1]", 0, *registry_, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE((*server)->port(), 0);
}

}  // namespace
}  // namespace moat::metrics
