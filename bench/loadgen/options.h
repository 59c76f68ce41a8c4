// Command-line settings of tideline_loadgen, validated once by ValidateOptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "http_connection.h"

namespace tideline::loadgen {

enum class Mode { kPutRecords, kPutRecord, kReplay };

struct LoadgenOptions {
  Mode mode = Mode::kPutRecords;
  // Server address. Default: 127.0.0.1:4567
  Endpoint endpoint{"127.0.0.1", "4567"};
  // HTTPS instead of HTTP (TLS 1.2+, the server's certificate verified). Default: false
  bool https = false;
  // With https: PEM file of the CA certificates to trust; empty trusts the system's CAs.
  // Default: empty
  std::string ca_file;
  // Default: loadgen
  std::string stream = "loadgen";
  // Concurrent keep-alive connections, one thread each. Default: 8
  int connections = 8;
  // Records per PutRecords request, 1..500. Default: 500
  int batch = 500;
  // Bytes of (random) data per record, 1..1 MiB. Default: 1024
  size_t record_size = 1024;
  // Records are JSON objects {"r":"<hex>"} of record_size bytes instead of random bytes, for a
  // pipeline that indexes them as documents. Default: false
  bool json_records = false;
  // How long put modes run; the longest replay may run. Default: 300
  double seconds = 300;
  // When > 0, create the stream with this many shards (and wait for ACTIVE) first. Default: 0
  int create_shards = 0;
  // Seconds between progress lines on stderr. Default: 10
  double report_interval = 10;
  // Distinct pre-built requests the connections cycle through. Default: 16
  int pool_requests = 16;
  // GetRecords Limit in replay, 1..10000. Default: 10000
  int limit = 10000;
  // Offered load in records/s across all connections (open loop): each connection sends on a
  // fixed schedule and latency counts from the scheduled send time, so a server that falls
  // behind shows it in the percentiles. 0 sends as fast as acks come back (closed loop).
  // Default: 0
  double rate = 0;
  // Seed of the random record bodies and partition keys. Default: 42
  uint64_t seed = 42;
};

// Returns "" if the options are usable, else a message naming the bad option.
[[nodiscard]] std::string ValidateOptions(const LoadgenOptions& options);

}  // namespace tideline::loadgen
