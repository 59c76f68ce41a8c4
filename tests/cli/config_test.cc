#include "cli/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <variant>

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
  EXPECT_EQ(c.server.host, d.server.host);
  EXPECT_EQ(c.server.port, d.server.port);
  EXPECT_EQ(c.server.account, d.server.account);
  EXPECT_EQ(c.server.io_threads, d.server.io_threads);
  EXPECT_EQ(c.server.max_body_bytes, d.server.max_body_bytes);
  EXPECT_EQ(c.server.idle_timeout, d.server.idle_timeout);
  const server::ThroughputLimits &t = c.server.throughput_limits, &dt = d.server.throughput_limits;
  EXPECT_EQ(t.enabled, dt.enabled);
  EXPECT_EQ(t.write_bytes_per_sec, dt.write_bytes_per_sec);
  EXPECT_EQ(t.write_records_per_sec, dt.write_records_per_sec);
  EXPECT_EQ(t.read_bytes_per_sec, dt.read_bytes_per_sec);
  EXPECT_EQ(t.reads_per_sec, dt.reads_per_sec);
  EXPECT_EQ(t.shard_iterators_per_sec, dt.shard_iterators_per_sec);
  EXPECT_EQ(c.storage.data_dir, d.storage.data_dir);
  EXPECT_EQ(c.storage.durability, d.storage.durability);
  EXPECT_EQ(c.storage.shard_limit, d.storage.shard_limit);
  EXPECT_EQ(c.storage.trim_interval, d.storage.trim_interval);
  EXPECT_EQ(c.storage.block_cache_bytes, d.storage.block_cache_bytes);
  EXPECT_EQ(c.logging.level, d.logging.level);
}

TEST(Config, DocumentedDefaultsMatchTheDesign) {
  const Config c;
  EXPECT_EQ(FormatListenAddress(c.server), "127.0.0.1:4567");
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

// The commented pipelines reference in examples/tideline.yaml must itself be a valid config
// (with the url/command alternative resolved to url) whose values are the documented defaults.
TEST(Config, ExampleFilePipelineReferenceParses) {
  std::ifstream in(TIDELINE_SOURCE_DIR "/examples/tideline.yaml");
  std::string yaml, line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("# pipelines:", 0) == 0) inside = true;
    if (!inside) continue;
    if (line.rfind("#", 0) != 0) break;
    yaml += line.substr(line.size() > 1 ? 2 : 1) + "\n";
  }
  ASSERT_FALSE(yaml.empty());
  Result<Config> r = ParseConfig(yaml, "tideline.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << yaml;
  ASSERT_EQ(r->pipelines.size(), 1u);
  const pipeline::PipelineOptions& p = r->pipelines[0];
  const pipeline::PipelineOptions d;
  EXPECT_EQ(p.processors.size(), 5u);
  EXPECT_EQ(p.buffer.size_mib, d.buffer.size_mib);
  EXPECT_EQ(p.buffer.interval_s, d.buffer.interval_s);
  EXPECT_EQ(p.source.read_max_records, d.source.read_max_records);
  EXPECT_EQ(p.max_document_depth, d.max_document_depth);
  const auto& lambda = std::get<pipeline::LambdaOptions>(p.processors[4].options);
  const pipeline::LambdaOptions dl;
  EXPECT_EQ(lambda.max_batch_bytes, dl.max_batch_bytes);
  EXPECT_EQ(lambda.max_batch_records, dl.max_batch_records);
  EXPECT_EQ(lambda.retries, dl.retries);
  EXPECT_EQ(lambda.timeout, dl.timeout);
  const auto& file = std::get<pipeline::FileDestinationOptions>(p.destination.options);
  const pipeline::FileDestinationOptions df;
  EXPECT_EQ(file.path, df.path);
  EXPECT_EQ(file.rotate_mib, df.rotate_mib);
  EXPECT_EQ(file.rotate_interval_s, df.rotate_interval_s);
  EXPECT_EQ(p.backup.path, pipeline::BackupOptions().path);
}

// The commented opensearch destination in that reference parses, with the documented defaults.
TEST(Config, ExampleFileOpenSearchReferenceParses) {
  std::ifstream in(TIDELINE_SOURCE_DIR "/examples/tideline.yaml");
  std::string block, line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.find("# opensearch:") != std::string::npos) inside = true;
    if (!inside) continue;
    if (line.rfind("#       #", 0) != 0) break;
    // "#       #   url: ..." -> "        url: ..." (both comment marks off, indentation kept).
    block += "      " + line.substr(std::string("#       # ").size()) + "\n";
  }
  ASSERT_FALSE(block.empty());
  const std::string yaml =
      "pipelines:\n  - name: p\n    source:\n      stream: s\n    destination:\n" + block;
  Result<Config> r = ParseConfig(yaml, "tideline.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << yaml;
  const auto& os =
      std::get<pipeline::OpenSearchDestinationOptions>(r->pipelines.at(0).destination.options);
  const pipeline::OpenSearchDestinationOptions d;
  EXPECT_EQ(os.rotation, d.rotation);
  EXPECT_EQ(os.document_id, d.document_id);
  EXPECT_EQ(os.retry_duration_s, d.retry_duration_s);
  EXPECT_EQ(os.gzip, d.gzip);
  EXPECT_EQ(os.tls_insecure, d.tls_insecure);
  EXPECT_EQ(os.concurrency, d.concurrency);
  EXPECT_EQ(os.bulk_max_mib, d.bulk_max_mib);
  EXPECT_EQ(os.keep_alive_connections, d.keep_alive_connections);
  EXPECT_EQ(os.request_timeout_s, d.request_timeout_s);
}

TEST(Config, ReadsEverySetting) {
  Result<Config> r = ParseConfig(
      "server:\n  listen: 0.0.0.0:9000\n  region: eu-west-1\n  account_id: '000000000001'\n"
      "  io_threads: 8\n  max_body_bytes: 1048576\n  idle_timeout_s: 5\n"
      "storage:\n  data_dir: /var/lib/tideline\n  durability: none\n  shard_limit: 10\n"
      "  trim_interval_s: 2\n  block_cache_mib: 128\nlogging:\n  level: debug\n",
      "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(FormatListenAddress(r->server), "0.0.0.0:9000");
  EXPECT_EQ(r->server.account.region, "eu-west-1");
  EXPECT_EQ(r->server.account.account_id, "000000000001");
  EXPECT_EQ(r->server.io_threads, 8);
  EXPECT_EQ(r->server.max_body_bytes, 1048576u);
  EXPECT_EQ(r->server.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(r->storage.data_dir, "/var/lib/tideline");
  EXPECT_EQ(r->storage.durability, storage::Durability::kNone);
  EXPECT_EQ(r->storage.shard_limit, 10u);
  EXPECT_EQ(r->storage.trim_interval, std::chrono::seconds(2));
  EXPECT_EQ(r->storage.block_cache_bytes, 128u << 20);
  EXPECT_EQ(r->logging.level, "debug");

  const storage::StoreOptions& store = r->storage;
  EXPECT_EQ(store.data_dir, "/var/lib/tideline");
  EXPECT_EQ(store.trim_interval, std::chrono::seconds(2));
  EXPECT_EQ(store.block_cache_bytes, 128u << 20);
  const server::ServerOptions& server = r->server;
  EXPECT_EQ(server.host, "0.0.0.0");
  EXPECT_EQ(server.port, 9000);
  EXPECT_EQ(server.idle_timeout, std::chrono::seconds(5));
}

TEST(Config, StatusDelayIsOneKnobForConsumersAndStreams) {
  EXPECT_EQ(Config{}.server.status_delay, Config{}.storage.status_delay);
  Result<Config> r = ParseConfig("server:\n  status_delay_ms: 0\n", "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server.status_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(r->storage.status_delay, std::chrono::milliseconds(0));
  r = ParseConfig("storage:\n  shard_limit: 7\nserver:\n  status_delay_ms: 1500\n", "c.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->storage.status_delay, std::chrono::milliseconds(1500));
}

TEST(Config, SubscriptionDurationIsReadAndRangeChecked) {
  EXPECT_EQ(Config{}.server.subscription_duration, std::chrono::minutes(5));
  Result<Config> r = ParseConfig("server:\n  subscription_duration_ms: 1500\n", "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server.subscription_duration, std::chrono::milliseconds(1500));
  EXPECT_EQ(ErrorOf("server:\n  subscription_duration_ms: 300001\n"),
            "config.yaml:2: server.subscription_duration_ms: expected an integer in 100..300000, "
            "got 300001");
  EXPECT_EQ(ErrorOf("server:\n  subscription_duration_ms: 99\n"),
            "config.yaml:2: server.subscription_duration_ms: expected an integer in 100..300000, "
            "got 99");
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
  EXPECT_EQ(
      ErrorOf("server:\n  listen: 1.2.3.4:5\n  region: 'US East'\n"),
      "config.yaml:3: server.region: expected 1..32 characters of [a-z0-9-], got \"US East\"");
}

TEST(Config, TlsSectionIsReadAndItsProblemsNamed) {
  // A file that cannot be read is named at its key's line (ValidateServerOptions loads them).
  EXPECT_EQ(ErrorOf("server:\n  tls:\n    cert_file: /nonexistent/tls.crt\n"
                    "    key_file: /nonexistent/tls.key\n"),
            "config.yaml:3: server.tls.cert_file: /nonexistent/tls.crt: No such file or "
            "directory");
  EXPECT_EQ(ErrorOf("server:\n  tls:\n    cert_file: a.crt\n"),
            "config.yaml:2: server.tls: cert_file and key_file are both required for HTTPS");
  EXPECT_EQ(ErrorOf("server:\n  tls:\n    cert_file: ''\n"),
            "config.yaml:3: server.tls.cert_file: expected a non-empty string");
  EXPECT_EQ(ErrorOf("server:\n  tls:\n    cert: a.crt\n")
                .rfind("config.yaml:3: server.tls.cert: unknown key", 0),
            0u);
  EXPECT_EQ(ErrorOf("server:\n  tls:\n    cert_file: a\n    key_file: b\n"
                    "    handshake_timeout_s: 0\n"),
            "config.yaml:5: server.tls.handshake_timeout_s: expected an integer in 1..3600, got 0");
  Result<Config> plain = ParseConfig("server:\n  io_threads: 2\n", "config.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->server.tls.has_value());
}

TEST(Config, HardeningLimitsAreReadCheckedAndPassedOn) {
  Result<Config> r = ParseConfig(
      "server:\n  max_connections: 100\n  header_timeout_s: 3\n  max_inflight_bytes: 33554432\n"
      "storage:\n  min_free_mib: 1024\n  max_queued_append_mib: 16\n"
      "pipelines:\n  - name: p\n    source: {stream: s}\n    max_document_depth: 20\n"
      "    destination: {file: {path: /tmp/out}}\n",
      "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const server::ServerOptions& server = r->server;
  EXPECT_EQ(server.max_connections, 100u);
  EXPECT_EQ(server.header_timeout, std::chrono::seconds(3));
  EXPECT_EQ(server.max_inflight_bytes, 32u << 20);
  const storage::StoreOptions& store = r->storage;
  EXPECT_EQ(store.min_free_bytes, 1024ull << 20);
  EXPECT_EQ(store.max_queued_append_bytes, 16u << 20);
  ASSERT_EQ(r->pipelines.size(), 1u);
  EXPECT_EQ(r->pipelines[0].max_document_depth, 20u);

  // Rules of several options are the options' own, reported at their section.
  EXPECT_EQ(ErrorOf("server:\n  max_body_bytes: 2097152\n  max_inflight_bytes: 1048576\n"),
            "config.yaml:1: server: max_inflight_bytes (1048576) must be >= max_body_bytes "
            "(2097152)");
  // Ranges come from the options structs: the file accepts what the server accepts.
  Result<Config> small =
      ParseConfig("server:\n  max_body_bytes: 1024\n  max_inflight_bytes: 1024\n", "config.yaml");
  ASSERT_TRUE(small.ok()) << small.status().message();
  EXPECT_TRUE(server::ValidateServerOptions(small->server).ok());
  EXPECT_EQ(ErrorOf("server:\n  max_connections: 0\n"),
            "config.yaml:2: server.max_connections: expected an integer in 1..1000000, got 0");
  EXPECT_EQ(ErrorOf("server:\n  header_timeout_s: 0\n"),
            "config.yaml:2: server.header_timeout_s: expected an integer in 1..3600, got 0");
  EXPECT_EQ(ErrorOf("storage:\n  min_free_mib: -1\n"),
            "config.yaml:2: storage.min_free_mib: expected an integer in 0..1048576, got -1");
  EXPECT_EQ(ErrorOf("storage:\n  max_queued_append_mib: 0\n"),
            "config.yaml:2: storage.max_queued_append_mib: expected an integer in 1..4096, got 0");
  const std::string pipeline =
      "pipelines:\n  - name: p\n    source: {stream: s}\n    destination: {file: {path: o}}\n";
  EXPECT_EQ(
      ErrorOf(pipeline + "    max_document_depth: 0\n"),
      "config.yaml:5: pipelines[0].max_document_depth: expected an integer in 1..1000, got 0");
  EXPECT_EQ(ErrorOf(pipeline + "    max_document_depth: 1001\n"),
            "config.yaml:5: pipelines[0].max_document_depth: expected an integer in 1..1000, got "
            "1001");
}

TEST(Config, ThroughputLimitsAreOffByDefaultAndReadWithTheirErrorsNamed) {
  const server::ThroughputLimits defaults;
  EXPECT_FALSE(defaults.enabled);
  EXPECT_EQ(defaults.write_bytes_per_sec, 1 << 20);
  EXPECT_EQ(defaults.write_records_per_sec, 1000);
  EXPECT_EQ(defaults.read_bytes_per_sec, 2 << 20);
  EXPECT_EQ(defaults.reads_per_sec, 5);
  EXPECT_EQ(defaults.shard_iterators_per_sec, 5);

  Result<Config> r = ParseConfig(
      "server:\n  throughput_limits:\n    enabled: true\n    write_bytes_per_sec: 4096\n"
      "    write_records_per_sec: 10\n    read_bytes_per_sec: 8192\n    reads_per_sec: 2\n"
      "    shard_iterators_per_sec: 3\n",
      "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const server::ThroughputLimits& t = r->server.throughput_limits;
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.write_bytes_per_sec, 4096);
  EXPECT_EQ(t.write_records_per_sec, 10);
  EXPECT_EQ(t.read_bytes_per_sec, 8192);
  EXPECT_EQ(t.reads_per_sec, 2);
  EXPECT_EQ(t.shard_iterators_per_sec, 3);
  // Enabled alone keeps AWS's figures.
  Result<Config> aws = ParseConfig("server:\n  throughput_limits: {enabled: true}\n", "c.yaml");
  ASSERT_TRUE(aws.ok()) << aws.status().message();
  EXPECT_TRUE(aws->server.throughput_limits.enabled);
  EXPECT_EQ(aws->server.throughput_limits.write_records_per_sec, 1000);

  EXPECT_EQ(ErrorOf("server:\n  throughput_limits:\n    enabled: yes\n"),
            "config.yaml:3: server.throughput_limits.enabled: expected true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf("server:\n  throughput_limits:\n    reads_per_sec: 0\n"),
            "config.yaml:3: server.throughput_limits.reads_per_sec: expected an integer in "
            "1..1000000000, got 0");
  EXPECT_EQ(ErrorOf("server:\n  throughput_limits:\n    write_bytes_per_sec: 10\n"),
            "config.yaml:3: server.throughput_limits.write_bytes_per_sec: expected an integer in "
            "1024..1099511627776, got 10");
  EXPECT_EQ(ErrorOf("server:\n  throughput_limits:\n    records_per_sec: 5\n")
                .rfind("config.yaml:3: server.throughput_limits.records_per_sec: unknown key", 0),
            0u);
  EXPECT_EQ(ErrorOf("server:\n  throughput_limits: 5\n"),
            "config.yaml:2: server.throughput_limits: expected a map, got \"5\"");
  // The server refuses what the file refuses.
  server::ServerOptions o;
  o.throughput_limits.reads_per_sec = 0;
  EXPECT_EQ(server::ValidateServerOptions(o).message(),
            "throughput_limits.reads_per_sec: expected an integer in 1..1000000000, got 0");
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  const std::string e = ErrorOf("server:\n  listen: 1.2.3.4:5\n  region: [unclosed\n");
  EXPECT_EQ(e.rfind("config.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  const std::string tab = ErrorOf("server:\n\tlisten: x\n");
  EXPECT_EQ(tab.rfind("config.yaml:2:", 0), 0u) << tab;
  // A stray flow indicator once sent the YAML library into an endless, allocating loop.
  EXPECT_EQ(ErrorOf(",\n"), "config.yaml:1:1: YAML syntax error: unexpected character");
  EXPECT_EQ(ErrorOf("server:\n  io_threads: 2\n,\n").rfind("config.yaml:", 0), 0u);
  EXPECT_EQ(ErrorOf("server: {}\n---\nstorage: {}\n"),
            "config.yaml:2: expected a single YAML document, found several");
}

TEST(Config, DuplicateKeyIsAnError) {
  EXPECT_EQ(ErrorOf("logging:\n  level: info\n  level: debug\n"),
            "config.yaml:3: logging.level: duplicate key");
}

constexpr const char* kFullPipeline = R"(pipelines:
  - name: access-logs
    source:
      stream: web
      starting_position: AT_TIMESTAMP
      starting_timestamp: "2026-11-30T00:00:00Z"
      read_max_records: 200
    processors:
      - type: access_log
        keep_line_field: message
      - type: geoip
        database: /db/city.mmdb
        asn_database: /db/asn.mmdb
        target_field: client.geo
      - type: json
      - type: fields
        add: {env: prod, team: web}
        rename: {user_agent: agent}
        copy: {status: http.status}
        remove: [ident]
        metadata: {kinesis.seq: sequence_number, kinesis.arrival: arrival_timestamp}
      - type: lambda
        command: [python3, transform.py]
        retries: 5
        timeout_ms: 2000
    buffer:
      size_mib: 2
      interval_s: 1
    destination:
      file:
        path: /out
        rotate_mib: 16
        rotate_interval_s: 600
    backup:
      path: /bk
      mode: AllDocuments
)";

TEST(Config, APipelineSourceMayNameAnotherRegionsStream) {
  const std::string yaml =
      "pipelines:\n  - name: west\n    source:\n      stream: STREAM\n"
      "    destination:\n      file: {path: /out}\n";
  const auto with = [&](const std::string& stream) {
    std::string y = yaml;
    y.replace(y.find("STREAM"), 6, stream);
    return y;
  };
  Result<Config> r = ParseConfig(with("\"us-west-2:logs\""), "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pipelines[0].source.stream.get(), "us-west-2:logs");
  EXPECT_NE(ErrorOf(with("\"US-WEST-2:logs\"")).find("region"), std::string::npos);
  EXPECT_NE(ErrorOf(with("\"us-west-2:a:b\"")).find("stream name may only contain"),
            std::string::npos);
}

TEST(Config, ParsesAFullPipeline) {
  Result<Config> r = ParseConfig(kFullPipeline, "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->pipelines.size(), 1u);
  const pipeline::PipelineOptions& p = r->pipelines[0];
  EXPECT_EQ(p.name, "access-logs");
  EXPECT_EQ(p.source.stream.get(), "web");
  EXPECT_EQ(p.source.start.type, storage::StartingPosition::kAtTimestamp);
  EXPECT_EQ(p.source.start.timestamp_ms, 1'795'996'800'000);
  EXPECT_EQ(p.source.read_max_records, 200u);
  ASSERT_EQ(p.processors.size(), 5u);
  EXPECT_EQ(std::get<pipeline::AccessLogOptions>(p.processors[0].options).keep_line_field,
            "message");
  const auto& geo = std::get<pipeline::GeoIpOptions>(p.processors[1].options);
  EXPECT_EQ(geo.database, "/db/city.mmdb");
  EXPECT_EQ(geo.asn_database, "/db/asn.mmdb");
  EXPECT_EQ(geo.source_field, "client_ip");
  EXPECT_EQ(geo.target_field, "client.geo");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(p.processors[2].options));
  const auto& fields = std::get<pipeline::FieldsOptions>(p.processors[3].options);
  ASSERT_EQ(fields.add.size(), 2u);
  EXPECT_EQ(fields.add[1], (std::pair<std::string, std::string>("team", "web")));
  EXPECT_EQ(fields.rename[0].second, "agent");
  EXPECT_EQ(fields.copy[0].second, "http.status");
  EXPECT_EQ(fields.remove, std::vector<std::string>{"ident"});
  ASSERT_EQ(fields.metadata.size(), 2u);
  EXPECT_EQ(fields.metadata[1].second, pipeline::MetadataField::kArrivalTimestamp);
  const auto& lambda = std::get<pipeline::LambdaOptions>(p.processors[4].options);
  EXPECT_EQ(lambda.command, (std::vector<std::string>{"python3", "transform.py"}));
  EXPECT_EQ(lambda.retries, 5);
  EXPECT_EQ(lambda.timeout.count(), 2000);
  EXPECT_EQ(p.buffer.size_mib, 2u);
  EXPECT_EQ(p.buffer.interval_s, 1u);
  const auto& file = std::get<pipeline::FileDestinationOptions>(p.destination.options);
  EXPECT_EQ(file.path, "/out");
  EXPECT_EQ(file.rotate_mib, 16u);
  EXPECT_EQ(file.rotate_interval_s, 600u);
  EXPECT_EQ(p.backup.path, "/bk");
  EXPECT_EQ(p.backup.mode, pipeline::BackupMode::kAllDocuments);
}

TEST(Config, PipelineDefaultsFollowFirehose) {
  Result<Config> r =
      ParseConfig("pipelines:\n  - name: p\n    source:\n      stream: s\n", "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const pipeline::PipelineOptions& p = r->pipelines.at(0);
  EXPECT_EQ(p.source.start.type, storage::StartingPosition::kTrimHorizon);
  EXPECT_TRUE(p.processors.empty());
  EXPECT_EQ(p.buffer.size_mib, 5u);
  EXPECT_EQ(p.buffer.interval_s, 300u);
  EXPECT_EQ(p.backup.mode, pipeline::BackupMode::kFailedDocumentsOnly);
  EXPECT_TRUE(ParseConfig("pipelines: []\n", "config.yaml").ok());
}

TEST(Config, ParsesAnOpenSearchDestination) {
  Result<Config> r = ParseConfig(
      "pipelines:\n  - name: p\n    source:\n      stream: s\n    destination:\n"
      "      opensearch:\n        url: [http://a:9200, https://b:9200]\n        index: logs\n"
      "        rotation: OneWeek\n        document_id: auto\n        retry_duration_s: 0\n"
      "        username: u\n        password: pw\n        ca_file: /ca.pem\n"
      "        tls_insecure: true\n        gzip: true\n        concurrency: 4\n"
      "        bulk_max_mib: 10\n        keep_alive_connections: 0\n"
      "        request_timeout_s: 5\n",
      "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& os =
      std::get<pipeline::OpenSearchDestinationOptions>(r->pipelines.at(0).destination.options);
  EXPECT_EQ(os.urls, (std::vector<std::string>{"http://a:9200", "https://b:9200"}));
  EXPECT_EQ(os.index, "logs");
  EXPECT_EQ(os.rotation, pipeline::IndexRotation::kOneWeek);
  EXPECT_EQ(os.document_id, pipeline::DocumentIdMode::kAuto);
  EXPECT_EQ(os.retry_duration_s, 0u);
  EXPECT_EQ(os.username, "u");
  EXPECT_EQ(os.password, "pw");
  EXPECT_EQ(os.ca_file, "/ca.pem");
  EXPECT_TRUE(os.tls_insecure);
  EXPECT_TRUE(os.gzip);
  EXPECT_EQ(os.concurrency, 4u);
  EXPECT_EQ(os.bulk_max_mib, 10u);
  EXPECT_EQ(os.keep_alive_connections, 0u);
  EXPECT_EQ(os.request_timeout_s, 5u);
}

TEST(Config, OpenSearchDefaultsFollowFirehose) {
  Result<Config> r = ParseConfig(
      "pipelines:\n  - name: p\n    source:\n      stream: s\n    destination:\n"
      "      opensearch:\n        url: http://a:9200\n        index: logs\n",
      "config.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& os =
      std::get<pipeline::OpenSearchDestinationOptions>(r->pipelines.at(0).destination.options);
  EXPECT_EQ(os.rotation, pipeline::IndexRotation::kOneDay);
  EXPECT_EQ(os.document_id, pipeline::DocumentIdMode::kStable);
  EXPECT_EQ(os.retry_duration_s, 300u);
  EXPECT_FALSE(os.gzip);
}

TEST(Config, OpenSearchErrorsNameFileLineAndKey) {
  const std::string head = "pipelines:\n  - name: p\n    source:\n      stream: s\n";
  const std::string dest = head + "    destination:\n      opensearch:\n";
  EXPECT_EQ(ErrorOf(dest + "        index: logs\n"),
            "config.yaml:6: pipelines[0].destination.opensearch: missing url");
  EXPECT_EQ(ErrorOf(dest + "        url: http://a\n        index: logs\n"
                           "        retry_duration_s: 7201\n"),
            "config.yaml:9: pipelines[0].destination.opensearch.retry_duration_s: expected an "
            "integer in 0..7200, got 7201");
  EXPECT_EQ(ErrorOf(dest + "        url: http://a\n        index: logs\n"
                           "        rotation: Daily\n"),
            "config.yaml:9: pipelines[0].destination.opensearch.rotation: expected one of "
            "NoRotation, OneHour, OneDay, OneWeek, OneMonth, got \"Daily\"");
  EXPECT_EQ(ErrorOf(dest + "        url: http://a\n        index: Logs\n"),
            "config.yaml:2: pipelines[0]: pipeline p: destination index 'Logs' must be lowercase");
  EXPECT_EQ(ErrorOf(dest + "        url: a:9200\n        index: logs\n"),
            "config.yaml:2: pipelines[0]: pipeline p: destination url 'a:9200' must start with "
            "http:// or https://");
  EXPECT_EQ(ErrorOf(dest + "        url: http://a\n        index: logs\n        gzip: yes\n"),
            "config.yaml:9: pipelines[0].destination.opensearch.gzip: expected true or false, "
            "got \"yes\"");
  EXPECT_EQ(ErrorOf(head + "    buffer:\n      size_mib: 101\n" +
                    "    destination:\n      opensearch:\n        url: http://a\n"
                    "        index: logs\n"),
            "config.yaml:2: pipelines[0]: pipeline p: buffer.size_mib must be in 1..100 for an "
            "opensearch destination");
  EXPECT_EQ(ErrorOf(head + "    destination:\n      file: {}\n      opensearch: {url: http://a, "
                           "index: l}\n"),
            "config.yaml:5: pipelines[0].destination: expected one destination, file or "
            "opensearch, not both");
}

TEST(Config, PipelineErrorsNameFileLineAndKey) {
  const std::string head = "pipelines:\n  - name: p\n    source:\n      stream: s\n";
  EXPECT_EQ(ErrorOf(head + "    processors:\n      - type: regex\n"),
            "config.yaml:6: pipelines[0].processors[0].type: expected one of access_log, geoip, "
            "json, fields, lambda, got \"regex\"");
  EXPECT_EQ(ErrorOf(head + "    buffer:\n      size_mib: 0\n"),
            "config.yaml:6: pipelines[0].buffer.size_mib: expected an integer in 1..128, got 0");
  EXPECT_EQ(
      ErrorOf(head + "    buffer:\n      interval_s: 901\n"),
      "config.yaml:6: pipelines[0].buffer.interval_s: expected an integer in 0..900, got 901");
  EXPECT_EQ(ErrorOf(head + "    processors:\n      - type: geoip\n"),
            "config.yaml:6: pipelines[0].processors[0]: a geoip processor needs database");
  EXPECT_EQ(ErrorOf(head + "    processors:\n      - type: lambda\n        url: http://x\n"
                           "        command: [a]\n"),
            "config.yaml:6: pipelines[0].processors[0]: a lambda processor needs exactly one of "
            "url or command");
  EXPECT_EQ(ErrorOf(head + "    processors:\n      - type: fields\n        metadata: {a: seq}\n"),
            "config.yaml:7: pipelines[0].processors[0].metadata.a: expected one of "
            "sequence_number, shard_id, partition_key, stream, arrival_timestamp, "
            "arrival_timestamp_ms, got \"seq\"");
  EXPECT_EQ(ErrorOf(head + "    backup:\n      mode: Some\n"),
            "config.yaml:6: pipelines[0].backup.mode: expected one of FailedDocumentsOnly, "
            "AllDocuments, got \"Some\"");
  EXPECT_EQ(ErrorOf(head + "    sink: x\n"),
            "config.yaml:5: pipelines[0].sink: unknown key (expected one of name, source, "
            "processors, buffer, destination, max_document_depth, backup)");
  EXPECT_EQ(ErrorOf("pipelines:\n  - source:\n      stream: s\n"),
            "config.yaml:2: pipelines[0]: missing name");
  EXPECT_EQ(ErrorOf("pipelines:\n  - name: p\n"), "config.yaml:2: pipelines[0]: missing source");
  EXPECT_EQ(ErrorOf("pipelines:\n  - name: bad/name\n    source:\n      stream: s\n"),
            "config.yaml:2: pipelines[0]: pipeline name 'bad/name' must be 1..64 characters of "
            "[A-Za-z0-9_.-]");
  EXPECT_EQ(ErrorOf(head + "  - name: p\n    source:\n      stream: t\n"),
            "config.yaml:5: pipelines[1]: duplicate pipeline name p");
  EXPECT_EQ(ErrorOf("pipelines:\n  - name: p\n    source:\n      stream: s\n"
                    "      starting_position: AT_TIMESTAMP\n"),
            "config.yaml:3: pipelines[0].source: AT_TIMESTAMP needs starting_timestamp");
  EXPECT_EQ(ErrorOf("pipelines: {a: 1}\n"), "config.yaml:1: pipelines: expected a list, got a map");
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
  EXPECT_EQ(FormatListenAddress(c.server), "[::1]:0");
  EXPECT_EQ(c.storage.data_dir, "b");
  EXPECT_EQ(c.storage.durability, storage::Durability::kNone);
  EXPECT_EQ(c.logging.level, "warn");
  EXPECT_EQ(c.server.host, "::1");
  EXPECT_EQ(c.server.port, 0);
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
       {"", "host", ":80", "host:", "host:-1", "host:65536", "::1:80", "[::1]80", "host:8o",
        // Brackets inside a host (found by the config fuzzer: "[[]:0" did not round-trip).
        "[[]:0", "[a]]:1", "a]:1", "a[:1"}) {
    EXPECT_FALSE(ParseListenAddress(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tideline::cli
