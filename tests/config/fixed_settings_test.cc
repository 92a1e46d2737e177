#include "proxy/config/fixed_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/config/config_fixture.h"

namespace moat::config::test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::string_view kBase = R"(listeners:
  - bind: "127.0.0.1:1883"
upstream:
  address: "127.0.0.1:1884"
policy:
  allow_all: true
threads: 2
auth:
  allow_anonymous: true
  hash_threads: 1
)";

class FixedSettingsTest : public ConfigTest {
 protected:
  std::vector<std::string> Changes(std::string_view before, std::string_view after) {
    auto running = Load(before);
    auto loaded = Load(after);
    EXPECT_TRUE(running.ok()) << running.status();
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!running.ok() || !loaded.ok()) return {"(not loaded)"};
    return FixedSettingChanges(running->fixed_settings, loaded->fixed_settings, "moat.yaml");
  }
};

TEST_F(FixedSettingsTest, WhatMayChangeLiveChangesNothingFixed) {
  std::string after(kBase);
  after.replace(after.find("allow_all: true"), 15, "allow_all: true\n  mode: audit");
  after += "limits:\n  max_connections: 10\n";
  EXPECT_THAT(Changes(kBase, after), IsEmpty());
  // Layout and comments are not changes.
  std::string reformatted(kBase);
  reformatted.replace(reformatted.find("threads: 2"), 10, "threads:   2   # workers");
  EXPECT_THAT(Changes(kBase, reformatted), IsEmpty());
}

TEST_F(FixedSettingsTest, EachFixedChangeIsNamedAtItsLine) {
  std::string after(kBase);
  after.replace(after.find("threads: 2"), 10, "threads: 1");
  after.replace(after.find("hash_threads: 1"), 15, "hash_threads: 2");
  after += "metrics:\n  bind: \"127.0.0.1:9100\"\n";
  EXPECT_THAT(Changes(kBase, after),
              ElementsAre("moat.yaml:7: threads cannot change while moat runs (restart moat to "
                          "apply it)",
                          "moat.yaml:12: metrics cannot change while moat runs (restart moat to "
                          "apply it)",
                          "moat.yaml:10: auth.hash_threads cannot change while moat runs (restart "
                          "moat to apply it)"));
}

TEST_F(FixedSettingsTest, RemovingAFixedSettingIsAChangeToo) {
  std::string after(kBase);
  after.erase(after.find("threads: 2\n"), 11);
  EXPECT_THAT(Changes(kBase, after),
              ElementsAre("moat.yaml:1: threads cannot change while moat runs (restart moat to "
                          "apply it)"));
}

}  // namespace
}  // namespace moat::config::test
