// LoadConfig() for the audit section (issue 17): the syslog copy is off unless asked for,
// its socket resolves against the config folder like every path, and each mistake is
// reported as "FILE:LINE: message".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"
#include "tests/config/config_fixture.h"

namespace moat::config {
namespace {

using test::ConfigTest;
using test::kMinimal;
using ::testing::ElementsAre;
using ::testing::StartsWith;

// kMinimal has four lines, so "audit:" is line 5 and its first key line 6.
std::string WithAudit(std::string_view body) {
  return std::string(kMinimal) + "audit:\n" + std::string(body);
}

TEST_F(ConfigTest, SyslogIsOffByDefaultAndGoesToDevLogAsDaemon) {
  const absl::StatusOr<Config> config = Load(WithAudit("  file: audit.log\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->audit.syslog);
  EXPECT_EQ(config->audit.syslog_socket, "/dev/log");
  EXPECT_EQ(config->audit.syslog_facility, 3);
}

TEST_F(ConfigTest, LoadsSyslogWithTheSocketResolvedAgainstTheConfigFolder) {
  const absl::StatusOr<Config> config =
      Load(WithAudit("  syslog: true\n  syslog_socket: run/log.sock\n  syslog_facility: local3\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->audit.syslog);
  // Need not exist yet: the collector may start after moat.
  EXPECT_EQ(config->audit.syslog_socket, dir_.path() + "/run/log.sock");
  EXPECT_EQ(config->audit.syslog_facility, 19);
}

TEST_F(ConfigTest, RejectsAnUnknownFacility) {
  EXPECT_THAT(Problem(WithAudit("  syslog: true\n  syslog_facility: mail\n")),
              StartsWith("moat.yaml:7: 'audit.syslog_facility' must be one of user, daemon, "
                         "auth, authpriv, local0,"));
}

TEST_F(ConfigTest, SyslogSettingsWithoutSyslogAreErrors) {
  EXPECT_THAT(Problems(WithAudit("  syslog_socket: /run/log\n  syslog_facility: local0\n")),
              ElementsAre("moat.yaml:6: 'audit.syslog_socket' needs 'audit.syslog: true'",
                          "moat.yaml:7: 'audit.syslog_facility' needs 'audit.syslog: true'"));
  EXPECT_EQ(Problem(WithAudit("  syslog: false\n  syslog_socket: /run/log\n")),
            "moat.yaml:7: 'audit.syslog_socket' needs 'audit.syslog: true'");
}

TEST_F(ConfigTest, RejectsASyslogSocketPathTooLongForASocketAddress) {
  const std::string path = "/" + std::string(107, 's');
  EXPECT_EQ(Problem(WithAudit("  syslog: true\n  syslog_socket: " + path + "\n")),
            "moat.yaml:7: 'audit.syslog_socket': the path is 108 bytes long; a socket's may "
            "be at most 107");
}

TEST_F(ConfigTest, RejectsUnknownKeysUnderAudit) {
  EXPECT_THAT(Problem(WithAudit("  syslog: true\n  syslog_host: siem.example\n")),
              StartsWith("moat.yaml:7: unknown key 'syslog_host' in 'audit'"));
  EXPECT_THAT(Problem(WithAudit("  syslog: yes please\n")),
              StartsWith("moat.yaml:6: 'audit.syslog' "));
}

}  // namespace
}  // namespace moat::config
