// tideline_loadgen: an external Kinesis JSON API client that measures ingest throughput,
// ack latency and replay speed of a running server. Progress goes to stderr; the result is
// one JSON line on stdout.
//
//   tideline_loadgen put-records --endpoint 127.0.0.1:4567 --stream s --connections 8
//       --batch 500 --record-size 1024 --seconds 300 --create-shards 4
//   tideline_loadgen put-record --stream s --connections 1 --seconds 20
//   tideline_loadgen replay --stream s
//   tideline_loadgen put-records --https --ca-file ca.crt --endpoint localhost:4567 ...
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "kinesis_admin.h"
#include "options.h"
#include "put_runner.h"
#include "replay_runner.h"

namespace tideline::loadgen {
namespace {

// Set by SIGINT/SIGTERM: workers finish their request and the run reports what it measured.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnSignal(int) {
  g_stop.store(true);
}

void AddCommonOptions(CLI::App& app, LoadgenOptions& options, std::string& endpoint) {
  app.add_option("--endpoint", endpoint, "server HOST:PORT")->capture_default_str();
  app.add_flag("--https", options.https, "HTTPS (TLS 1.2+, the certificate is verified)");
  app.add_option("--ca-file", options.ca_file,
                 "with --https: PEM CA certificates to trust (default: the system's)");
  app.add_option("--stream", options.stream, "stream name")->capture_default_str();
  app.add_option("--connections", options.connections, "keep-alive connections (threads)")
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "run time (replay: at most)")->capture_default_str();
  app.add_option("--create-shards", options.create_shards,
                 "create the stream with N shards first (an existing stream is kept)");
  app.add_option("--report-interval", options.report_interval, "seconds between progress lines")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "random seed of record data and keys")
      ->capture_default_str();
}

void AddPutOptions(CLI::App& app, LoadgenOptions& options, bool batch) {
  if (batch) {
    app.add_option("--batch", options.batch, "records per PutRecords")->capture_default_str();
  }
  app.add_flag("--json-records", options.json_records,
               "records are JSON objects {\"r\":\"<hex>\"} (documents for a pipeline)");
  app.add_option("--record-size", options.record_size, "bytes of data per record")
      ->capture_default_str();
  app.add_option("--pool-requests", options.pool_requests, "distinct pre-built requests")
      ->capture_default_str();
  app.add_option("--rate", options.rate,
                 "offered records/s over all connections (open loop); 0 = closed loop")
      ->capture_default_str();
}

int Run(const LoadgenOptions& options) {
  std::string error;
  if (options.create_shards > 0) {
    KinesisAdmin admin(options.endpoint);
    if (!admin.CreateStream(options.stream, options.create_shards, error) ||
        !admin.WaitActive(options.stream, std::chrono::seconds(60), error)) {
      fmt::print(stderr, "tideline_loadgen: {}\n", error);
      return 1;
    }
  }
  RunSummary summary;
  if (options.mode == Mode::kReplay) {
    if (!RunReplay(options, g_stop, summary, error)) {
      fmt::print(stderr, "tideline_loadgen: {}\n", error);
      return 1;
    }
  } else {
    summary = RunPut(options, g_stop);
  }
  fmt::print(stderr, "{}", summary.Text());
  fmt::print("{}\n", summary.JsonLine());
  std::fflush(stdout);
  // Exit status 3 when nothing at all succeeded, so scripts notice a dead server.
  return summary.requests == 0 ? 3 : 0;
}

}  // namespace
}  // namespace tideline::loadgen

int main(int argc, char** argv) {
  using namespace tideline::loadgen;
  LoadgenOptions options;
  std::string endpoint = "127.0.0.1:4567";
  CLI::App app{"tideline_loadgen: Kinesis API load generator"};
  app.require_subcommand(1);
  auto* put_records = app.add_subcommand("put-records", "PutRecords throughput and ack latency");
  auto* put_record = app.add_subcommand("put-record", "single PutRecord latency");
  auto* replay = app.add_subcommand("replay", "read every shard from TRIM_HORIZON");
  for (auto* sub : {put_records, put_record, replay})
    AddCommonOptions(*sub, options, endpoint);
  AddPutOptions(*put_records, options, true);
  AddPutOptions(*put_record, options, false);
  replay->add_option("--limit", options.limit, "GetRecords Limit")->capture_default_str();
  std::string region = "us-east-1";
  for (auto* sub : {put_records, put_record, replay}) {
    sub->add_option("--region", region,
                    "region to sign for; requests are signed (SigV4) when AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY are set")
        ->capture_default_str();
  }
  CLI11_PARSE(app, argc, argv);

  if (put_record->parsed()) options.mode = Mode::kPutRecord;
  if (replay->parsed()) options.mode = Mode::kReplay;
  std::string error;
  if (!ParseEndpoint(endpoint, options.endpoint, error)) {
    fmt::print(stderr, "tideline_loadgen: {}\n", error);
    return 2;
  }
  const char* key_id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (key_id != nullptr && *key_id != '\0' && secret != nullptr && *secret != '\0') {
    const char* token = std::getenv("AWS_SESSION_TOKEN");
    options.endpoint.signing =
        std::make_shared<Signing>(Signing{{key_id, secret, token != nullptr ? token : ""}, region});
  }
  if (std::string invalid = ValidateOptions(options); !invalid.empty()) {
    fmt::print(stderr, "tideline_loadgen: {}\n", invalid);
    return 2;
  }
  if (options.https) {
    options.endpoint.tls = MakeTlsClientContext(options.ca_file, error);
    if (!options.endpoint.tls) {
      fmt::print(stderr, "tideline_loadgen: {}\n", error);
      return 2;
    }
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);  // a server closing mid-write is an error we report
  return Run(options);
}
