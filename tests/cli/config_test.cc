#include "cli/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace tideline::cli {
namespace {

// The message of a config that must fail to parse.
std::string ErrorOf(const std::string& yaml) {
  Result<Config> r = ParseConfig(yaml, "config.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? std::string() : r.status().message();
}

void ExpectDefaults(const Config& c) {
  const Config d;
  EXPECT_EQ(c.server.listen, d.server.listen);
  EXPECT_EQ(c.server.region, d.server.region);
  EXPECT_EQ(c.server.account_id, d.server.account_id);
  EXPECT_EQ(c.server.io_threads, d.server.io_threads);
  EXPECT_EQ(c.server.max_body_bytes, d.server.max_body_bytes);
  EXPECT_EQ(c.server.idle_timeout_s, d.server.idle_timeout_s);
  EXPECT_EQ(c.storage.data_dir, d.storage.data_dir);
  EXPECT_EQ(c.storage.durability, d.storage.durability);
  EXPECT_EQ(c.storage.shard_limit, d.storage.shard_limit);
  EXPECT_EQ(c.storage.trim_interval_s, d.storage.trim_interval_s);
  EXPECT_EQ(c.storage.block_cache_mib, d.storage.block_cache_mib);
  EXPECT_EQ(c.logging.level, d.logging.level);
}

TEST(Config, DocumentedDefaultsMatchTheDesign) {
  const Config c;
  EXPECT_EQ(c.server.listen, "127.0.0.1:4567");
  EXPECT_EQ(c.storage.data_dir, "./data");
  EXPECT_EQ(c.storage.durability, storage::Durability::kFsync);
}

TEST(Config, EmptyFileAndEmptySectionsGiveDefaults) {
  for (const char* yaml : {"", "# only a comment\n", "server:\nstorage:\nlogging:\n"}) {
    Result<Config> r = ParseConfig(yaml, "config.yaml");
    ASSERT_TRUE(r.ok()) << r.status().message();
    ExpectDefaults(*r);
  }
}

TEST(Config, ExampleFileDocumentsExactlyTheDefaults) {
  Result<Config> r = LoadConfigFile(TIDELINE_SOURCE_DIR "/examples/tideline.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectDefaults(*r);
}

TEST(Config, ReadsEverySetting) {
  Result<Config> r = ParseConfig(
      "server:\n  listen: 0.0.0.0:9000\n  region: eu-west-1\n  account_id: '000000000001'\n"
      "  io_threads: 8\n  max_body_bytes: 1048576\n  idle_timeout_s: 5\n"
      "storage:\n  data_dir: /var/lib/tideline\n  durability: none\n  shard_limit: 10\n"
      "  trim_interval_s: 2\n  block_cache_mib: 128\nlogging:\n  level: debug\n",
      "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(r->server.region, "eu-west-1");
  EXPECT_EQ(r->server.account_id, "000000000001");
  EXPECT_EQ(r->server.io_threads, 8);
  EXPECT_EQ(r->server.max_body_bytes, 1048576u);
  EXPECT_EQ(r->server.idle_timeout_s, 5);
  EXPECT_EQ(r->storage.data_dir, "/var/lib/tideline");
  EXPECT_EQ(r->storage.durability, storage::Durability::kNone);
  EXPECT_EQ(r->storage.shard_limit, 10u);
  EXPECT_EQ(r->storage.trim_interval_s, 2);
  EXPECT_EQ(r->storage.block_cache_mib, 128);
  EXPECT_EQ(r->logging.level, "debug");

  const auto store = ToStoreOptions(*r);
  EXPECT_EQ(store.data_dir, "/var/lib/tideline");
  EXPECT_EQ(store.trim_interval, std::chrono::seconds(2));
  EXPECT_EQ(store.block_cache_bytes, 128u << 20);
  const auto server = ToServerOptions(*r);
  EXPECT_EQ(server.host, "0.0.0.0");
  EXPECT_EQ(server.port, 9000);
  EXPECT_EQ(server.idle_timeout, std::chrono::seconds(5));
}

TEST(Config, BadEnumNamesFileLineKeyAndChoices) {
  EXPECT_EQ(
      ErrorOf("# c\nserver:\n  io_threads: 2\n\nstorage:\n  data_dir: d\n  durability: fsnc\n"),
      "config.yaml:7: storage.durability: expected one of fsync, none, got \"fsnc\"");
}

TEST(Config, UnknownKeyNamesFileLineKey) {
  EXPECT_EQ(
      ErrorOf("server:\n  lisen: 1.2.3.4:5\n").rfind("config.yaml:2: server.lisen: unknown key", 0),
      0u);
  EXPECT_EQ(ErrorOf("logging:\n  level: info\nstorge:\n  x: 1\n")
                .rfind("config.yaml:3: storge: unknown key", 0),
            0u);
}

TEST(Config, WrongTypeNamesFileLineKey) {
  EXPECT_EQ(ErrorOf("server:\n  io_threads: many\n"),
            "config.yaml:2: server.io_threads: expected an integer in 1..64, got \"many\"");
  EXPECT_EQ(ErrorOf("server:\n  io_threads: 2.5\n"),
            "config.yaml:2: server.io_threads: expected an integer in 1..64, got \"2.5\"");
  EXPECT_EQ(ErrorOf("storage:\n  data_dir: [a, b]\n"),
            "config.yaml:2: storage.data_dir: expected a string, got a list");
  EXPECT_EQ(ErrorOf("server: 5\n"), "config.yaml:1: server: expected a map, got \"5\"");
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "config.yaml:1: (top level): expected a map, got a list");
}

TEST(Config, OutOfRangeNamesFileLineKey) {
  EXPECT_EQ(ErrorOf("\nstorage:\n  shard_limit: 0\n"),
            "config.yaml:3: storage.shard_limit: expected an integer in 1..100000, got 0");
  EXPECT_EQ(ErrorOf("server:\n  io_threads: 65\n"),
            "config.yaml:2: server.io_threads: expected an integer in 1..64, got 65");
  EXPECT_EQ(ErrorOf("server:\n  listen: 127.0.0.1:70000\n")
                .rfind("config.yaml:2: server.listen: expected HOST:PORT", 0),
            0u);
  EXPECT_EQ(ErrorOf("server:\n  account_id: '12345'\n"),
            "config.yaml:2: server.account_id: expected 12 digits, got \"12345\"");
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  const std::string e = ErrorOf("server:\n  listen: 1.2.3.4:5\n  region: [unclosed\n");
  EXPECT_EQ(e.rfind("config.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  const std::string tab = ErrorOf("server:\n\tlisten: x\n");
  EXPECT_EQ(tab.rfind("config.yaml:2:", 0), 0u) << tab;
}

TEST(Config, DuplicateKeyIsAnError) {
  EXPECT_EQ(ErrorOf("logging:\n  level: info\n  level: debug\n"),
            "config.yaml:3: logging.level: duplicate key");
}

TEST(Config, PipelinesKeyIsRejectedUntilSupported) {
  for (const char* yaml : {"pipelines:\n", "pipelines: []\n", "pipelines:\n  - name: x\n"}) {
    const std::string e = ErrorOf(std::string("logging:\n  level: info\n") + yaml);
    EXPECT_EQ(e.rfind("config.yaml:3: pipelines: pipelines are not supported", 0), 0u) << e;
  }
}

TEST(Config, MissingFileIsAnErrorNamingIt) {
  Result<Config> r = LoadConfigFile("/nonexistent/tideline.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/tideline.yaml"), std::string::npos);
}

TEST(Config, FlagsOverrideTheFile) {
  Result<Config> r =
      ParseConfig("server:\n  listen: 0.0.0.0:1\nstorage:\n  data_dir: a\n", "config.yaml");
  ASSERT_TRUE(r.ok());
  Config c = *r;
  ConfigOverrides o;
  o.listen = "[::1]:0";
  o.data_dir = "b";
  o.durability = "none";
  o.log_level = "warn";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.server.listen, "[::1]:0");
  EXPECT_EQ(c.storage.data_dir, "b");
  EXPECT_EQ(c.storage.durability, storage::Durability::kNone);
  EXPECT_EQ(c.logging.level, "warn");
  EXPECT_EQ(ToServerOptions(c).host, "::1");
  EXPECT_EQ(ToServerOptions(c).port, 0);
}

TEST(Config, AbsentFlagsKeepTheFile) {
  Result<Config> r = ParseConfig("storage:\n  data_dir: a\n", "config.yaml");
  ASSERT_TRUE(r.ok());
  Config c = *r;
  ASSERT_TRUE(ApplyOverrides(ConfigOverrides{}, c).ok());
  EXPECT_EQ(c.storage.data_dir, "a");
}

TEST(Config, BadFlagValuesNameTheFlag) {
  Config c;
  ConfigOverrides o;
  o.durability = "fsnc";
  Status st = ApplyOverrides(o, c);
  EXPECT_EQ(st.message(), "--durability: expected one of fsync, none, got \"fsnc\"");
  o = ConfigOverrides{};
  o.listen = "nohost";
  EXPECT_EQ(ApplyOverrides(o, c).message().rfind("--listen:", 0), 0u);
  o = ConfigOverrides{};
  o.log_level = "loud";
  EXPECT_EQ(ApplyOverrides(o, c).message().rfind("--log-level:", 0), 0u);
}

TEST(ParseListenAddress, AcceptsHostPortAndBracketedIpv6Only) {
  EXPECT_EQ(ParseListenAddress("localhost:80")->host, "localhost");
  EXPECT_EQ(ParseListenAddress("localhost:80")->port, 80);
  EXPECT_EQ(ParseListenAddress("[::]:4567")->host, "::");
  for (const char* bad :
       {"", "host", ":80", "host:", "host:-1", "host:65536", "::1:80", "[::1]80", "host:8o"}) {
    EXPECT_FALSE(ParseListenAddress(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tideline::cli
