// tideline_fanout: measures enhanced fan-out (SubscribeToShard over HTTP/1.1, the event stream
// in a chunked body) of a running server. Progress goes to stderr; the result is one JSON line
// on stdout.
//
//   tideline_fanout latency --endpoint 127.0.0.1:4567 --consumers 5 --rate 10000 --seconds 30
//   tideline_fanout throughput --endpoint 127.0.0.1:4567 --prefill-mib 300
//   tideline_fanout latency --https --ca-file ca.crt --endpoint localhost:4567 ...
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "fanout_options.h"
#include "latency_run.h"
#include "throughput_run.h"

namespace tideline::fanout {
namespace {

// Set by SIGINT/SIGTERM: the run stops producing and reports what it measured.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnSignal(int) {
  g_stop.store(true);
}

void AddCommonOptions(CLI::App& app, FanoutOptions& options, std::string& endpoint,
                      std::string& region) {
  app.add_option("--endpoint", endpoint, "server HOST:PORT")->capture_default_str();
  app.add_flag("--https", options.https, "HTTPS (TLS 1.2+, the certificate is verified)");
  app.add_option("--ca-file", options.ca_file,
                 "with --https: PEM CA certificates to trust (default: the system's)");
  app.add_option("--stream", options.stream, "1-shard stream (created when missing)");
  app.add_option("--batch", options.batch, "records per PutRecords");
  app.add_option("--producer-connections", options.producer_connections,
                 "producer connections (threads)")
      ->capture_default_str();
  app.add_option("--record-size", options.record_size, "bytes of data per record")
      ->capture_default_str();
  app.add_option("--seconds", options.seconds,
                 "latency: how long the producer runs; throughput: longest catch-up");
  app.add_option("--report-interval", options.report_interval, "seconds between progress lines")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "random seed of the record data")->capture_default_str();
  app.add_option("--region", region,
                 "region to sign for; requests are signed (SigV4) when AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY are set")
      ->capture_default_str();
}

}  // namespace
}  // namespace tideline::fanout

int main(int argc, char** argv) {
  using namespace tideline::fanout;
  FanoutOptions options;
  std::string endpoint = "127.0.0.1:4567";
  std::string region = "us-east-1";
  CLI::App app{"tideline_fanout: enhanced fan-out (SubscribeToShard) latency and throughput"};
  app.require_subcommand(1);
  auto* latency = app.add_subcommand(
      "latency", "put-to-receipt latency of each record at each subscribed consumer");
  auto* throughput = app.add_subcommand(
      "throughput", "one subscription reading a pre-filled shard from TRIM_HORIZON");
  for (auto* sub : {latency, throughput})
    AddCommonOptions(*sub, options, endpoint, region);
  latency->add_option("--consumers", options.consumers, "registered consumers subscribed")
      ->capture_default_str();
  latency->add_option("--rate", options.rate, "records/s offered (open loop)")
      ->capture_default_str();
  latency
      ->add_option("--warmup-seconds", options.warmup_seconds,
                   "records sent in the first seconds are not counted")
      ->capture_default_str();
  latency
      ->add_option("--drain-seconds", options.drain_seconds,
                   "time the consumers get to receive every acknowledged record")
      ->capture_default_str();
  throughput->add_option("--prefill-mib", options.prefill_mib, "MiB of records put first")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const bool throughput_mode = throughput->parsed();
  options.mode = throughput_mode ? FanoutMode::kThroughput : FanoutMode::kLatency;
  // Defaults that differ between the runs, unless given.
  if (throughput_mode) {
    if (options.stream.empty()) options.stream = "fanout-throughput";
    if (throughput->count("--batch") == 0) options.batch = 500;
    if (throughput->count("--seconds") == 0) options.seconds = 600;
  } else {
    if (options.stream.empty()) options.stream = "fanout";
  }
  std::string error;
  if (!tideline::loadgen::ParseEndpoint(endpoint, options.endpoint, error)) {
    fmt::print(stderr, "tideline_fanout: {}\n", error);
    return 2;
  }
  const char* key_id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (key_id != nullptr && *key_id != '\0' && secret != nullptr && *secret != '\0') {
    const char* token = std::getenv("AWS_SESSION_TOKEN");
    options.endpoint.signing = std::make_shared<tideline::loadgen::Signing>(
        tideline::loadgen::Signing{{key_id, secret, token != nullptr ? token : ""}, region});
  }
  if (std::string invalid = ValidateFanoutOptions(options); !invalid.empty()) {
    fmt::print(stderr, "tideline_fanout: {}\n", invalid);
    return 2;
  }
  if (options.https) {
    options.endpoint.tls = tideline::loadgen::MakeTlsClientContext(options.ca_file, error);
    if (!options.endpoint.tls) {
      fmt::print(stderr, "tideline_fanout: {}\n", error);
      return 2;
    }
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);  // a server closing mid-write is an error we report
  std::string json_line;
  const bool ok = throughput_mode ? RunThroughput(options, g_stop, json_line, error)
                                  : RunLatency(options, g_stop, json_line, error);
  if (!ok) {
    fmt::print(stderr, "tideline_fanout: {}\n", error);
    return 1;
  }
  fmt::print("{}\n", json_line);
  std::fflush(stdout);
  return 0;
}
