// The audit log's rate limits: one address flooding refusals cannot hide another's, and
// many addresses together are still held to a bound.
#include "proxy/audit_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/file_reading/temp_dir.h"

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

  test::TempDir dir_;
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

}  // namespace
}  // namespace moat::proxy
