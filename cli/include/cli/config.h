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
#include "server/options.h"
#include "storage/options.h"

namespace tideline::cli {

struct LoggingConfig {
  // One of trace, debug, info, warn, error, off. Default: info
  std::string level = "info";
};

struct Config {
  // The server section: listen (host and port), region and account_id, and the limits. Its
  // defaults and ranges are ServerOptions' own (server/options.h). iterator_ttl is set by
  // --iterator-ttl-ms only. The `auth` section (mode, metrics, credentials) fills server.auth.
  server::ServerOptions server;
  // The storage section: data_dir, durability, shard_limit, trim_interval_s, block_cache_mib,
  // min_free_mib, max_queued_append_mib. Defaults and ranges are StoreOptions' (storage/options.h).
  storage::StoreOptions storage;
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

// "host:port", "[v6]:port" for a host with colons.
std::string FormatListenAddress(const server::ServerOptions& options);

}  // namespace tideline::cli
