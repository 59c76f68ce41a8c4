// The tideline configuration file (YAML) and the Config it produces.
//
// Every setting has a default, so an absent file or an empty one is a valid configuration.
// Loading is strict: an unknown key, a value of the wrong type, a value out of range or a YAML
// syntax error is an error whose message names the file, the line and the key, e.g.
//   config.yaml:7: storage.durability: expected one of fsync, none, got "fsnc"
// The documented reference is examples/tideline.yaml.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/aws_account.h"
#include "common/status.h"
#include "pipeline/options.h"
#include "server/server.h"
#include "storage/options.h"

namespace tideline::cli {

struct ServerConfig {
  // HOST:PORT the Kinesis API listens on; "[::1]:4567" for IPv6; port 0 picks a free port.
  // Default: 127.0.0.1:4567
  std::string listen = "127.0.0.1:4567";
  // region and account_id. Default: us-east-1, 123456789012
  AwsAccount account;
  // 1..64. Default: 2
  int io_threads = 2;
  // 64 KiB..1 GiB. Default: 8 MiB
  uint64_t max_body_bytes = 8u << 20;
  // Seconds before an idle connection is closed, 1..3600. Default: 60
  int idle_timeout_s = 60;
  // Seconds a request header may take from its first byte (from the accept, for a connection's
  // first request), 1..3600. Default: 10
  int header_timeout_s = 10;
  // Connections served at once, 1..1000000; lowered at start to fit RLIMIT_NOFILE. Default: 4096
  uint64_t max_connections = 4096;
  // Request bytes held in memory at once, 1 MiB..64 GiB, >= max_body_bytes. Default: 64 MiB
  uint64_t max_inflight_bytes = 64u << 20;
  // TEST ONLY (--iterator-ttl-ms, not in the file): shard iterator lifetime. Default: 300000
  int64_t iterator_ttl_ms = 5 * 60 * 1000;
};

struct StorageConfig {
  // Default: ./data
  std::string data_dir = "./data";
  // kFsync (default) or kNone (benchmarks only: recent records may be lost on power failure).
  storage::Durability durability = storage::Durability::kFsync;
  // 1..100000. Default: 500
  uint32_t shard_limit = 500;
  // 1..86400. Default: 60
  int trim_interval_s = 60;
  // 1..65536. Default: 64
  int block_cache_mib = 64;
  // Appends are refused (503 ServiceUnavailable) while the data directory's file system has less
  // free space than this; 0..1048576, 0 disables the check. Default: 256
  int64_t min_free_mib = 256;
  // Record bytes that may wait for the writer before appends are throttled
  // (ProvisionedThroughputExceededException); 1..4096. Default: 64
  int max_queued_append_mib = 64;
};

struct LoggingConfig {
  // One of trace, debug, info, warn, error, off. Default: info
  std::string level = "info";
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  LoggingConfig logging;
  // Delivery pipelines `serve` runs; none by default. Region and account come from `server`.
  std::vector<pipeline::PipelineOptions> pipelines;
};

// Parses `text`, naming it `file_name` in error messages. Returns InvalidArgument with a
// "file:line: key: problem" message on any error.
Result<Config> ParseConfig(std::string_view text, std::string_view file_name);

// Reads and parses a file; a missing or unreadable file is an error naming it.
Result<Config> LoadConfigFile(const std::string& path);

// Passwords stay out of config files and command lines: a destination with a username and no
// password takes $TIDELINE_OPENSEARCH_PASSWORD, when it is set.
void PasswordFromEnvironment(pipeline::OpenSearchDestinationOptions& options);

// Overrides from the `serve` command line; each set field replaces the file's value.
struct ConfigOverrides {
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
  std::optional<std::string> durability;  // "fsync" | "none"
  std::optional<std::string> log_level;
  // TEST ONLY: shard iterators expire after this many milliseconds instead of 5 minutes.
  std::optional<int64_t> iterator_ttl_ms;
};

// Applies and validates overrides. Errors name the flag, e.g. "--listen: expected HOST:PORT...".
Status ApplyOverrides(const ConfigOverrides& overrides, Config& config);

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// "host:port", "[v6]:port". nullopt when malformed or the port is not in 0..65535.
std::optional<ListenAddress> ParseListenAddress(std::string_view text);

std::string_view DurabilityName(storage::Durability durability);

// The component options a validated Config describes.
storage::StoreOptions ToStoreOptions(const Config& config);
server::ServerOptions ToServerOptions(const Config& config);

}  // namespace tideline::cli
