// The audit log's rate limits: one address flooding refusals cannot hide another's, and
// many addresses together are still held to a bound; session lines are never held back.
// Its syslog copy, and the count of lines a sink lost.
#include "proxy/audit_log.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/file_reading/temp_dir.h"
#include "tests/proxy/session_fixture.h"
#include "tests/proxy/syslog_collector.h"

namespace moat::proxy {
namespace {

size_t CountLines(const std::string& text, std::string_view needle) {
  size_t count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) count += line.find(needle) != line.npos;
  return count;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No refill to speak of within a test: each key gets exactly its burst.
    auto log = AuditLog::Open(path_, /*per_second=*/1e-6, /*burst=*/2);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(log).value();
  }
  void Refused(std::string_view address) {
    log_->Write({.event = "refused_connection", .reason = "address_rate", .address = address});
  }
  std::string Text() {
    log_.reset();
    std::ifstream in(path_);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  moat::test::TempDir dir_;
  std::string path_ = dir_.File("audit.log");
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, OneAddressFloodingCannotHideAnother) {
  for (int i = 0; i < 100; ++i) Refused("198.51.100.7");
  Refused("203.0.113.9");
  const std::string text = Text();
  EXPECT_EQ(CountLines(text, "198.51.100.7"), 2u);
  EXPECT_EQ(CountLines(text, "203.0.113.9"), 1u);
}

TEST_F(AuditLogTest, ManyAddressesTogetherAreHeldToTenTimesTheBurst) {
  for (int i = 0; i < 100; ++i) Refused("10.0.0." + std::to_string(i));
  EXPECT_EQ(CountLines(Text(), "refused_connection"), 20u);
}

TEST_F(AuditLogTest, SessionLinesAreNeverHeldBackByTheRateLimit) {
  for (int i = 0; i < 50; ++i) {
    log_->Write({.event = "session_admitted", .address = "198.51.100.7"});
    log_->Write({.event = "session_ended", .reason = "client_closed", .address = "198.51.100.7"});
  }
  const std::string text = Text();
  EXPECT_EQ(CountLines(text, "session_admitted"), 50u);
  EXPECT_EQ(CountLines(text, "session_ended"), 50u);
  EXPECT_EQ(CountLines(text, "suppressed"), 0u);
}

TEST_F(AuditLogTest, ASessionEndedLineCarriesItsTotalsAsNumbers) {
  const SessionTotals totals{.duration_ms = 1500,
                             .messages_from_client = 3,
                             .messages_from_broker = 4,
                             .bytes_from_client = 120,
                             .bytes_from_broker = 9000};
  log_->Write({.event = "session_ended", .reason = "client_disconnected", .totals = &totals});
  const boost::json::object line = boost::json::parse(Text()).as_object();
  EXPECT_EQ(line.at("reason").as_string(), "client_disconnected");
  EXPECT_EQ(line.at("duration_ms").as_int64(), 1500);
  EXPECT_EQ(line.at("messages_from_client").to_number<uint64_t>(), 3u);
  EXPECT_EQ(line.at("messages_from_broker").to_number<uint64_t>(), 4u);
  EXPECT_EQ(line.at("bytes_from_client").to_number<uint64_t>(), 120u);
  EXPECT_EQ(line.at("bytes_from_broker").to_number<uint64_t>(), 9000u);
  EXPECT_FALSE(line.contains("topic"));  // fields that do not apply are left out
}

class AuditLogSyslogTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> Open() {
    auto sink = SyslogSink::Open(socket_, /*facility=*/16);
    EXPECT_TRUE(sink.ok()) << sink.status();
    auto log = AuditLog::Open(dir_.File("audit.log"), 1e-6, 2, std::move(sink).value());
    EXPECT_TRUE(log.ok()) << log.status();
    (*log)->CountDropsIn(counters_.registry.get());
    return std::move(log).value();
  }
  double Dropped(std::string_view sink) const {
    return counters_.Value(
        absl::StrCat(R"(moat_audit_lines_dropped_total{sink=")", std::string(sink), R"("})"));
  }

  moat::test::TempDir dir_;
  std::string socket_ = dir_.File("log.sock");
  test::Counters counters_;
};

TEST_F(AuditLogSyslogTest, EveryLineWrittenAlsoGoesToSyslogWithItsEventAsMsgid) {
  test::SyslogCollector collector(socket_);
  auto log = Open();
  log->Write({.event = "ban", .reason = "address", .address = "198.51.100.7"});
  log->Write({.event = "session_admitted", .address = "198.51.100.7"});
  const std::string ban = collector.Receive();
  // local0: 16 * 8, plus warning (4) for a ban and informational (6) for a session.
  EXPECT_TRUE(ban.starts_with("<132>1 ")) << ban;
  EXPECT_NE(ban.find(" ban - {\"time\":"), std::string::npos) << ban;
  EXPECT_NE(ban.find(R"("address":"198.51.100.7")"), std::string::npos) << ban;
  EXPECT_TRUE(collector.Receive().starts_with("<134>1 "));
  EXPECT_EQ(Dropped("syslog"), 0);
}

TEST_F(AuditLogSyslogTest, LinesTheSocketCannotTakeAreCountedAndStillWrittenToTheFile) {
  auto log = Open();  // nothing listens on the socket
  log->Write({.event = "session_admitted", .address = "198.51.100.7"});
  log->Write({.event = "session_ended", .address = "198.51.100.7"});
  EXPECT_EQ(Dropped("syslog"), 2);
  EXPECT_EQ(Dropped("file"), 0);
  log.reset();
  std::ifstream in(dir_.File("audit.log"));
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(CountLines(text, "session_"), 2u);
}

}  // namespace
}  // namespace moat::proxy
