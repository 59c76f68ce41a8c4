// Argument parsing for every `tideline` subcommand. See cli/commands.h.
#include <ctime>

#include "cli/commands.h"

namespace tideline::cli {
namespace {

// --endpoint, and how requests to it are signed (cli/aws_credentials.h).
template <typename Args>
void AddEndpoint(CLI::App* cmd, Args& a) {
  cmd->add_option("--endpoint", a.endpoint, "tideline (or Kinesis) API endpoint")
      ->envname("TIDELINE_ENDPOINT")
      ->capture_default_str();
  cmd->add_option("--region", a.region,
                  "Region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config, "
                  "us-east-1)");
  cmd->add_option("--ca-bundle", a.ca_bundle, "PEM CA bundle for an https endpoint");
}

void RegisterServe(CLI::App& app, Invocation& inv) {
  auto* serve = app.add_subcommand("serve", "Run the tideline server (Kinesis-compatible API)");
  ServeArgs& a = inv.serve;
  serve->add_option("--config", a.config_path, "YAML configuration file (see examples/)");
  serve->add_option_function<std::string>(
      "--data-dir", [&a](const std::string& v) { a.overrides.data_dir = v; },
      "Data directory (overrides storage.data_dir)");
  serve->add_option_function<std::string>(
      "--listen", [&a](const std::string& v) { a.overrides.listen = v; },
      "HOST:PORT to listen on (overrides server.listen)");
  serve->add_option_function<std::string>(
      "--durability", [&a](const std::string& v) { a.overrides.durability = v; },
      "fsync (default) or none (benchmarks only: acknowledged records may be lost)");
  serve->add_option_function<std::string>(
      "--log-level", [&a](const std::string& v) { a.overrides.log_level = v; },
      "trace, debug, info, warn, error or off (overrides logging.level)");
  serve->add_option_function<int64_t>(
      "--iterator-ttl-ms", [&a](int64_t v) { a.overrides.iterator_ttl_ms = v; },
      "TEST ONLY: shard iterator lifetime in ms (default 300000)");
  serve->callback([&inv] { inv.command = Command::kServe; });
}

void RegisterStream(CLI::App& app, Invocation& inv) {
  auto* stream = app.add_subcommand("stream", "Create, list, describe and delete streams");
  stream->require_subcommand(1);
  StreamArgs& a = inv.stream;

  auto* create = stream->add_subcommand("create", "Create a stream");
  create->add_option("name", a.name, "Stream name")->required();
  create->add_option("--shards", a.shards, "Number of shards")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  create
      ->add_option_function<int>(
          "--retention-hours", [&a](const int& h) { a.retention_hours = h; },
          "Retention in hours, 24..8760 (default 24)")
      ->check(CLI::Range(24, 8760));
  create->callback([&inv] { inv.command = Command::kStreamCreate; });

  auto* list = stream->add_subcommand("list", "List streams");
  list->callback([&inv] { inv.command = Command::kStreamList; });

  auto* describe = stream->add_subcommand("describe", "Describe a stream and its shards");
  describe->add_option("name", a.name, "Stream name")->required();
  describe->callback([&inv] { inv.command = Command::kStreamDescribe; });

  auto* del = stream->add_subcommand("delete", "Delete a stream and its records");
  del->add_option("name", a.name, "Stream name")->required();
  del->callback([&inv] { inv.command = Command::kStreamDelete; });

  for (CLI::App* sub : {create, list, describe, del})
    AddEndpoint(sub, a);
}

void RegisterPut(CLI::App& app, Invocation& inv) {
  auto* put = app.add_subcommand("put", "Put lines from files or stdin as records, one a line");
  PutArgs& a = inv.put;
  AddEndpoint(put, a);
  put->add_option("stream", a.stream, "Stream name")->required();
  put->add_option("files", a.files, "Input files ('-' or none: stdin)");
  put->add_option_function<std::string>(
      "--partition-key,-k", [&a](const std::string& k) { a.partition_key = k; },
      "Partition key for every record (default: a hash of each line)");
  put->add_flag_function(
      "--progress,!--no-progress", [&a](int64_t n) { a.progress = n > 0; },
      "Show a progress line on stderr (default: when stderr is a terminal)");
  put->callback([&inv] { inv.command = Command::kPut; });
}

void RegisterGet(CLI::App& app, Invocation& inv) {
  auto* get = app.add_subcommand("get", "Replay records of a stream (one shard or all)");
  GetArgs& a = inv.get;
  AddEndpoint(get, a);
  get->add_option("stream", a.stream, "Stream name")->required();
  get->add_option_function<std::string>(
      "--shard", [&a](const std::string& s) { a.shard = s; }, "Shard id (default: every shard)");
  auto* pos = get->add_option_group("position", "Where to start (exactly one)");
  pos->add_flag("--trim-horizon", a.trim_horizon, "From the oldest record kept");
  pos->add_flag("--latest", a.latest, "Only records added from now on");
  pos->add_option_function<std::string>(
      "--at-seq", [&a](const std::string& s) { a.at_seq = s; }, "At a sequence number");
  pos->add_option_function<std::string>(
      "--after-seq", [&a](const std::string& s) { a.after_seq = s; }, "After a sequence number");
  pos->add_option_function<std::string>(
      "--at-timestamp", [&a](const std::string& s) { a.at_timestamp = s; },
      "From an arrival time: epoch seconds or 2024-01-02T03:04:05Z");
  pos->require_option(1);
  get->add_option_function<uint64_t>(
      "--limit", [&a](const uint64_t& n) { a.limit = n; }, "Stop after this many records");
  get->add_flag("--follow,-f", a.follow, "Keep polling for new records");
  get->add_option_function<std::string>(
         "--format",
         [&a](const std::string& f) {
           a.format = f == "json" ? GetFormat::kJson : GetFormat::kData;
         },
         "data (each record's data as a line) or json (a JSON object a line)")
      ->check(CLI::IsMember({"data", "json"}));
  get->callback([&inv] { inv.command = Command::kGet; });
}

void RegisterPipeline(CLI::App& app, Invocation& inv) {
  auto* pipeline = app.add_subcommand("pipeline", "Show the delivery pipelines a server runs");
  pipeline->require_subcommand(1);
  PipelineArgs& a = inv.pipeline;
  auto* list = pipeline->add_subcommand("list", "One line per pipeline: state, lag, counts");
  list->callback([&inv] { inv.command = Command::kPipelineList; });
  auto* status =
      pipeline->add_subcommand("status", "Per-shard checkpoints, lag and counters of pipelines");
  status->add_option("name", a.name, "Pipeline name (default: every pipeline)");
  status->add_flag("--json", a.json, "Print the server's JSON as is");
  status->callback([&inv] { inv.command = Command::kPipelineStatus; });
  auto* reset = pipeline->add_subcommand(
      "reset", "Move a pipeline's checkpoints so that records are delivered again");
  reset->add_option("name", a.name, "Pipeline name")->required();
  auto* pos = reset->add_option_group("position", "Where the pipeline reads next");
  pos->add_flag("--trim-horizon", a.trim_horizon, "From the oldest record retained");
  pos->add_flag("--latest", a.latest, "From the next record appended (skips the backlog)");
  pos->add_option_function<std::string>(
      "--at-seq", [&a](const std::string& s) { a.at_seq = s; },
      "From this record (its shard only)");
  pos->add_option_function<std::string>(
      "--after-seq", [&a](const std::string& s) { a.after_seq = s; },
      "From the record after this one (its shard only)");
  pos->add_option_function<std::string>(
      "--at-timestamp", [&a](const std::string& s) { a.at_timestamp = s; },
      "From an arrival time: epoch seconds or 2024-01-02T03:04:05Z");
  pos->require_option(1);
  reset->callback([&inv] { inv.command = Command::kPipelineReset; });
  for (CLI::App* sub : {list, status, reset})
    AddEndpoint(sub, a);
}

void RegisterBackup(CLI::App& app, Invocation& inv) {
  auto* backup = app.add_subcommand("backup", "List backed-up documents and send them again");
  backup->require_subcommand(1);
  BackupArgs& a = inv.backup;
  auto* list = backup->add_subcommand("list", "Backup files: kind, state, lines, error codes");
  list->add_option("path", a.path, "Backup directory or file (default: ./backup)");
  list->add_option("--backup-dir", a.path, "The same as PATH");
  list->callback([&inv] { inv.command = Command::kBackupList; });

  auto* redrive = backup->add_subcommand(
      "redrive", "Send the documents of backup files to OpenSearch again, with the same ids");
  redrive->add_option("path", a.path, "Backup file or directory")->required();
  redrive->add_option("--url", a.urls, "OpenSearch node URL (repeatable)");
  redrive->add_option("--config", a.config_path,
                      "Take the OpenSearch settings from this configuration file...");
  redrive->add_option("--pipeline", a.pipeline, "...from this pipeline's destination");
  redrive->add_option("--username", a.username, "Basic auth user");
  redrive->add_option("--password", a.password,
                      "Basic auth password (default: $TIDELINE_OPENSEARCH_PASSWORD)");
  redrive->add_option("--ca-file", a.ca_file, "PEM CA bundle for https");
  redrive->add_flag("--insecure", a.insecure, "Skip TLS certificate verification");
  redrive->add_flag("--gzip", a.gzip, "gzip request bodies");
  redrive
      ->add_option_function<uint32_t>(
          "--retry-duration", [&a](const uint32_t& s) { a.retry_duration_s = s; },
          "Seconds to retry failing documents before they are backed up again (default 300)")
      ->check(CLI::Range(0, 7200));
  redrive->add_flag_function(
      "--progress,!--no-progress", [&a](int64_t n) { a.progress = n > 0; },
      "Show a progress line on stderr (default: when stderr is a terminal)");
  redrive->callback([&inv] { inv.command = Command::kBackupRedrive; });
}

}  // namespace

void RegisterCommands(CLI::App& app, Invocation& inv) {
  app.require_subcommand(1);
  RegisterServe(app, inv);
  RegisterStream(app, inv);
  RegisterPut(app, inv);
  RegisterGet(app, inv);
  RegisterPipeline(app, inv);
  RegisterBackup(app, inv);
}

Status ValidateGetArgs(const GetArgs& args) {
  if (args.limit && *args.limit == 0) return Status::InvalidArgument("--limit: must be at least 1");
  if (args.at_timestamp && !ParseTimestampMs(*args.at_timestamp)) {
    return Status::InvalidArgument("--at-timestamp: expected epoch seconds or " +
                                   std::string("YYYY-MM-DDTHH:MM:SS[.fff]Z, got \"") +
                                   *args.at_timestamp + "\"");
  }
  for (const auto* seq : {&args.at_seq, &args.after_seq}) {
    if (!*seq) continue;
    const std::string& s = **seq;
    bool ok = !s.empty() && s.size() <= 129 && (s == "0" || s[0] != '0');
    for (char c : s)
      ok = ok && c >= '0' && c <= '9';
    if (!ok) {
      return Status::InvalidArgument(std::string(seq == &args.at_seq ? "--at-seq" : "--after-seq") +
                                     ": expected a sequence number (digits), got \"" + s + "\"");
    }
  }
  return Status::Ok();
}

std::optional<int64_t> ParseTimestampMs(std::string_view text) {
  auto digits = [](std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  // Milliseconds of an optional ".fff" fraction (more digits are truncated).
  auto fraction_ms = [&](std::string_view frac) -> std::optional<int64_t> {
    if (frac.empty()) return 0;
    if (frac[0] != '.' || !digits(frac.substr(1))) return std::nullopt;
    std::string ms(frac.substr(1, 3));
    while (ms.size() < 3)
      ms += '0';
    return std::stoll(ms);
  };
  if (text.find('T') == std::string_view::npos) {
    const size_t dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    if (!digits(whole) || whole.size() > 12) return std::nullopt;
    const auto frac = fraction_ms(dot == std::string_view::npos ? "" : text.substr(dot));
    if (!frac) return std::nullopt;
    return std::stoll(std::string(whole)) * 1000 + *frac;
  }
  // ISO 8601 in UTC: YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)?
  std::string_view s = text;
  if (s.ends_with("Z")) {
    s.remove_suffix(1);
  } else if (s.ends_with("+00:00")) {
    s.remove_suffix(6);
  }
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  for (size_t i : {0, 5, 8, 11, 14, 17}) {
    if (!digits(s.substr(i, i == 0 ? 4 : 2))) return std::nullopt;
  }
  const auto frac = fraction_ms(s.substr(19));
  if (!frac) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(std::string(s.substr(0, 4))) - 1900;
  tm.tm_mon = std::stoi(std::string(s.substr(5, 2))) - 1;
  tm.tm_mday = std::stoi(std::string(s.substr(8, 2)));
  tm.tm_hour = std::stoi(std::string(s.substr(11, 2)));
  tm.tm_min = std::stoi(std::string(s.substr(14, 2)));
  tm.tm_sec = std::stoi(std::string(s.substr(17, 2)));
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000 + *frac;
}

int RunInvocation(const Invocation& inv) {
  switch (inv.command) {
    case Command::kServe:
      return RunServe(inv.serve);
    case Command::kStreamCreate:
    case Command::kStreamList:
    case Command::kStreamDescribe:
    case Command::kStreamDelete:
      return RunStreamCommand(inv.command, inv.stream);
    case Command::kPut:
      return RunPut(inv.put);
    case Command::kGet:
      return RunGet(inv.get);
    case Command::kPipelineList:
    case Command::kPipelineStatus:
      return RunPipelineCommand(inv.command, inv.pipeline);
    case Command::kPipelineReset:
      return RunPipelineReset(inv.pipeline);
    case Command::kBackupList:
      return RunBackupList(inv.backup);
    case Command::kBackupRedrive:
      return RunBackupRedrive(inv.backup);
    case Command::kNone:
      break;
  }
  return kExitUsage;
}

}  // namespace tideline::cli
