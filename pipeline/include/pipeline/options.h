// Options of a pipeline: source stream -> processors -> buffer -> destination, with a backup.
// Ranges and defaults follow Firehose where it has the same setting. Validated once, by
// ValidatePipelineOptions (the config loader reports its errors with file and line first).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "pipeline/processor.h"
#include "storage/status.h"
#include "storage/store.h"

namespace tideline::pipeline {

// Where a shard reader starts when its pipeline has no checkpoint for the shard yet. The
// position is resolved once and written as the first checkpoint, so a restart never skips or
// repeats records because LATEST moved in between.
enum class StartPosition { kTrimHorizon, kLatest, kAtTimestamp };

struct SourceOptions {
  // Default: none (required)
  StreamName stream;
  // Default: kTrimHorizon
  StartPosition start = StartPosition::kTrimHorizon;
  // For kAtTimestamp: ms since the Unix epoch.
  int64_t start_timestamp_ms = 0;
  // Most records / bytes one shard read hands to the transform chain.
  // Default: 500 records, 1 MiB
  size_t read_max_records = 500;
  size_t read_max_bytes = 1u << 20;
};

struct ProcessorOptions {
  std::variant<AccessLogOptions, GeoIpOptions, std::monostate /* json */, FieldsOptions,
               LambdaOptions>
      options;
};

// Firehose buffering hints: a flush happens when either is reached.
struct BufferOptions {
  // 1..128. Default: 5
  uint32_t size_mib = 5;
  // 0..900. Default: 300
  uint32_t interval_s = 300;
};

struct FileDestinationOptions {
  // Directory for the NDJSON files; the pipeline writes under <path>/<pipeline name>/.
  // Default: ./output
  std::string path = "./output";
  // A file is closed and a new one started past this size (MiB, 1..4096) or age (s, 1..86400).
  // Default: 64 MiB, 3600 s
  uint32_t rotate_mib = 64;
  uint32_t rotate_interval_s = 3600;
};

struct DestinationOptions {
  // Default: a file destination under ./output
  std::variant<FileDestinationOptions> options;
};

enum class BackupMode {
  kFailedDocumentsOnly,  // records that failed processing or delivery
  kAllDocuments,         // additionally every delivered document
};

struct BackupOptions {
  // Backups go under <path>/<pipeline name>/. Default: ./backup
  std::string path = "./backup";
  // Default: kFailedDocumentsOnly
  BackupMode mode = BackupMode::kFailedDocumentsOnly;
};

struct PipelineOptions {
  // 1..64 of [A-Za-z0-9_.-]; the checkpoint application name. Default: none (required)
  std::string name;
  SourceOptions source;
  std::vector<ProcessorOptions> processors;
  BufferOptions buffer;
  DestinationOptions destination;
  BackupOptions backup;
  // Region and account for ARNs handed to Lambda processors. Default: us-east-1, 123456789012
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
};

Status ValidatePipelineOptions(const PipelineOptions& options);

}  // namespace tideline::pipeline
