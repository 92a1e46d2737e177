// The audit trail's syslog copy: RFC 5424 on a local datagram socket, and never a wait,
// whether the socket is there, missing or full.
#include "proxy/syslog_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>

#include "tests/file_reading/temp_dir.h"
#include "tests/proxy/syslog_collector.h"

namespace moat::proxy {
namespace {

using test::SyslogCollector;

const absl::Time kTime = absl::FromUnixMicros(1'780'000'000'123'456);

class SyslogSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<SyslogSink> Open(int facility = 3) {
    auto sink = SyslogSink::Open(path_, facility);
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? std::move(sink).value() : nullptr;
  }

  moat::test::TempDir dir_;
  std::string path_ = dir_.File("log.sock");
};

TEST_F(SyslogSinkTest, SendsOneRfc5424MessagePerLine) {
  SyslogCollector collector(path_);
  auto sink = Open(/*facility=*/19);  // local3
  ASSERT_TRUE(sink->Send(SyslogSeverity::kNotice, "denial", R"({"event":"denial"})", kTime));
  const std::string message = collector.Receive();
  // PRI = 19 * 8 + 5; VERSION 1; UTC with microseconds; no structured data.
  const std::regex rfc5424(
      R"(<157>1 2026-05-28T20:26:40\.123456Z [!-~]+ moat [0-9]+ denial - \{"event":"denial"\})");
  EXPECT_TRUE(std::regex_match(message, rfc5424)) << message;
  EXPECT_NE(message.find(" moat " + std::to_string(getpid()) + " "), std::string::npos);
  EXPECT_EQ(collector.Receive(), "");  // exactly one datagram
}

TEST_F(SyslogSinkTest, AMissingSocketLosesTheLineAndSaysSo) {
  auto sink = Open();
  EXPECT_FALSE(sink->Send(SyslogSeverity::kNotice, "denial", "{}", kTime));
  // A collector that comes up later is found without reopening.
  SyslogCollector collector(path_);
  EXPECT_TRUE(sink->Send(SyslogSeverity::kNotice, "denial", "{}", kTime));
  EXPECT_NE(collector.Receive(), "");
}

TEST_F(SyslogSinkTest, AFullSocketLosesLinesInsteadOfWaiting) {
  SyslogCollector collector(path_);  // never read until the end
  auto sink = Open();
  const std::string line(1000, 'x');
  const auto started = std::chrono::steady_clock::now();
  int sent = 0;
  bool lost = false;
  for (int i = 0; i < 100'000 && !lost; ++i) {
    lost = !sink->Send(SyslogSeverity::kNotice, "denial", line, kTime);
    sent += !lost;
  }
  EXPECT_TRUE(lost) << "the socket never filled";
  EXPECT_GT(sent, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(SyslogSink, RefusesAPathNoSocketAddressCanHold) {
  EXPECT_FALSE(SyslogSink::Open("/" + std::string(200, 'x'), 3).ok());
  EXPECT_FALSE(SyslogSink::Open("", 3).ok());
}

}  // namespace
}  // namespace moat::proxy
