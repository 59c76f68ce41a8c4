// Command-line settings of tideline_fanout, validated once by ValidateFanoutOptions.
#pragma once

#include <cstddef>
#include <string>

#include "http_connection.h"

namespace tideline::fanout {

enum class FanoutMode { kLatency, kThroughput };

struct FanoutOptions {
  FanoutMode mode = FanoutMode::kLatency;
  // Server address. Default: 127.0.0.1:4567
  loadgen::Endpoint endpoint{"127.0.0.1", "4567"};
  // HTTPS instead of HTTP (TLS 1.2+, the certificate verified). Default: false
  bool https = false;
  // With https: PEM CA certificates to trust; empty trusts the system's. Default: empty
  std::string ca_file;
  // The 1-shard stream, created when missing. Default: fanout (latency), fanout-throughput
  std::string stream;
  // Registered consumers subscribed at once (latency), named fanout-0 .. fanout-N-1; they are
  // registered when missing. Default: 1
  int consumers = 1;
  // Records/s offered by the producer, open loop (latency). Default: 10000
  double rate = 10000;
  // Records per PutRecords request. Default: 100 (latency), 500 (throughput prefill)
  int batch = 100;
  // Producer connections, one thread each. Default: 4
  int producer_connections = 4;
  // Bytes of data per record, at least 18 (the record's id). Default: 1024
  size_t record_size = 1024;
  // How long the producer runs (latency); the longest a catch-up may take (throughput).
  // Default: 30 (latency), 600 (throughput)
  double seconds = 30;
  // Records sent in the first warmup seconds are left out of the figures (connections and
  // subscriptions settle). Default: 1
  double warmup_seconds = 1;
  // How long consumers may take after the producer stops to receive what was acknowledged.
  // Default: 30
  double drain_seconds = 30;
  // MiB of record data put into the shard before the subscription (throughput). Default: 300
  double prefill_mib = 300;
  // Seconds between progress lines on stderr. Default: 5
  double report_interval = 5;
  // Seed of the random filler. Default: 42
  uint64_t seed = 42;
};

// Returns "" if the options are usable, else a message naming the bad option.
[[nodiscard]] std::string ValidateFanoutOptions(const FanoutOptions& options);

}  // namespace tideline::fanout
