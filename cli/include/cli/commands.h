// The `tideline` command line: argument parsing into plain option structs, and the commands.
//
// RegisterCommands wires every subcommand into a CLI11 app and fills an Invocation as it
// parses, so argument handling is testable without running anything; RunInvocation then runs
// the chosen command and returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "common/status.h"

namespace tideline::cli {

inline constexpr const char* kDefaultEndpoint = "http://127.0.0.1:4567";

// Exit codes: 0 success, 1 the command failed at run time, 2 bad usage or configuration.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct ServeArgs {
  std::string config_path;  // empty: the built-in defaults
  ConfigOverrides overrides;
};

struct StreamArgs {
  std::string endpoint = kDefaultEndpoint;
  std::string region;     // --region; empty: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config
  std::string ca_bundle;  // --ca-bundle: PEM CA file for https endpoints
  std::string name;
  int shards = 1;
  std::optional<int> retention_hours;
};

struct PutArgs {
  std::string endpoint = kDefaultEndpoint;
  std::string region;     // --region; empty: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config
  std::string ca_bundle;  // --ca-bundle: PEM CA file for https endpoints
  std::string stream;
  std::vector<std::string> files;  // empty or "-": stdin
  std::optional<std::string> partition_key;
  // Whether to print a progress line; defaults to isatty(stderr).
  std::optional<bool> progress;
};

enum class GetFormat { kData, kJson };

struct GetArgs {
  std::string endpoint = kDefaultEndpoint;
  std::string region;     // --region; empty: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config
  std::string ca_bundle;  // --ca-bundle: PEM CA file for https endpoints
  std::string stream;
  std::optional<std::string> shard;  // absent: every shard
  bool trim_horizon = false;
  bool latest = false;
  std::optional<std::string> at_seq;
  std::optional<std::string> after_seq;
  std::optional<std::string> at_timestamp;  // epoch seconds or ISO 8601 UTC
  std::optional<uint64_t> limit;            // most records printed in total
  bool follow = false;
  GetFormat format = GetFormat::kData;
};

struct PipelineArgs {
  std::string endpoint = kDefaultEndpoint;
  std::string region;     // --region; empty: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config
  std::string ca_bundle;  // --ca-bundle: PEM CA file for https endpoints
  std::string name;       // status: empty means every pipeline
  bool json = false;
  // reset: exactly one of these.
  bool trim_horizon = false;
  bool latest = false;
  std::optional<std::string> at_seq;
  std::optional<std::string> after_seq;
  std::optional<std::string> at_timestamp;  // epoch seconds or ISO 8601 UTC
};

struct BackupArgs {
  // list: a backup directory, a pipeline's, or a file (default ./backup).
  // redrive: a backup file or directory (required).
  std::string path;
  // Where the documents go: --url (repeatable) with the flags below, or the opensearch
  // destination of pipeline `pipeline` in the config file `config_path`.
  std::vector<std::string> urls;
  std::string config_path;
  std::string pipeline;
  std::string username;
  std::string password;  // default: $TIDELINE_OPENSEARCH_PASSWORD
  std::string ca_file;
  bool insecure = false;
  bool gzip = false;
  std::optional<uint32_t> retry_duration_s;
  std::optional<bool> progress;  // default: isatty(stderr)
};

enum class Command {
  kNone,
  kServe,
  kStreamCreate,
  kStreamList,
  kStreamDescribe,
  kStreamDelete,
  kPut,
  kGet,
  kPipelineList,
  kPipelineStatus,
  kPipelineReset,
  kBackupList,
  kBackupRedrive,
};

struct Invocation {
  Command command = Command::kNone;
  ServeArgs serve;
  StreamArgs stream;
  PutArgs put;
  GetArgs get;
  PipelineArgs pipeline;
  BackupArgs backup;
};

void RegisterCommands(CLI::App& app, Invocation& invocation);

// Checks what CLI11 cannot express (e.g. a limit of 0). InvalidArgument names the flag.
Status ValidateGetArgs(const GetArgs& args);

// Milliseconds since the epoch from "1700000000", "1700000000.5" or "2024-01-02T03:04:05Z"
// (optionally with fractional seconds); nullopt otherwise.
std::optional<int64_t> ParseTimestampMs(std::string_view text);

int RunInvocation(const Invocation& invocation);

int RunServe(const ServeArgs& args);
int RunStreamCommand(Command command, const StreamArgs& args);
int RunPut(const PutArgs& args);
int RunGet(const GetArgs& args);
int RunPipelineCommand(Command command, const PipelineArgs& args);
int RunPipelineReset(const PipelineArgs& args);
int RunBackupList(const BackupArgs& args);
int RunBackupRedrive(const BackupArgs& args);

}  // namespace tideline::cli
