// Options of a pipeline: source stream -> processors -> buffer -> destination, with a backup.
// Ranges and defaults follow Firehose where it has the same setting. Validated once, by
// ValidatePipelineOptions (the config loader reports its errors with file and line first).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/aws_account.h"
#include "common/status.h"
#include "pipeline/processor.h"
#include "storage/store.h"

namespace tideline::pipeline {

struct SourceOptions {
  // A stream of the default region ("logs"), or of another region as "<region>:<name>"
  // ("us-west-2:logs"), the store's name for it (common/regional_stream.h).
  // Default: none (required)
  StreamName stream;
  // Where a shard reader starts when its pipeline has no checkpoint for the shard yet:
  // TRIM_HORIZON, LATEST or AT_TIMESTAMP. Resolved once and written as the first checkpoint, so
  // a restart never skips or repeats records because LATEST moved in between.
  // Default: TRIM_HORIZON
  storage::StreamPosition start = storage::StreamPosition::TrimHorizon();
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

// Firehose's index rotation: the UTC arrival time of a record appended to the index name.
//   kNoRotation "logs", kOneHour "logs-2016-02-25-13", kOneDay "logs-2016-02-25",
//   kOneWeek "logs-2016-w08" (weeks start on Sunday; week 1 holds the year's first Saturday),
//   kOneMonth "logs-2016-02".
enum class IndexRotation { kNoRotation, kOneHour, kOneDay, kOneWeek, kOneMonth };

enum class DocumentIdMode {
  // "<stream>-<sequence number>", sent with the `create` action: a retry or a replay of a record
  // already indexed answers 409, which counts as delivered, so the index holds it once.
  kStable,
  // OpenSearch generates the id (`index` action without _id): a retry after a lost
  // acknowledgement can index the record twice.
  kAuto,
};

struct OpenSearchDestinationOptions {
  // Base URLs of one or more nodes ("https://search-1:9200"); requests go round robin and a
  // node that fails a request is skipped for the next. Default: none (required)
  std::vector<std::string> urls;
  // Index name (before rotation): OpenSearch's rules, lowercase. Default: none (required)
  std::string index;
  // Default: kOneDay (Firehose's default)
  IndexRotation rotation = IndexRotation::kOneDay;
  // Default: kStable
  DocumentIdMode document_id = DocumentIdMode::kStable;
  // How long documents that fail with a retryable error (429, 5xx, connection errors,
  // timeouts) are retried, from the first attempt, before they go to the backup. 0..7200.
  // Default: 300
  uint32_t retry_duration_s = 300;
  // HTTP basic auth; both or neither. Default: none
  std::string username;
  std::string password;
  // PEM CA bundle for https URLs (default: the system's). tls_insecure skips certificate and
  // host name verification (tests only). Default: "", false
  std::string ca_file;
  bool tls_insecure = false;
  // gzip request bodies (Content-Encoding: gzip). Default: false
  bool gzip = false;
  // Bulk requests in flight at once (1..16); a flush is split into this many requests or
  // more. Default: 2
  uint32_t concurrency = 2;
  // Most bytes of NDJSON in one bulk request (1..100 MiB; a 413 halves a request further).
  // Default: 5 MiB
  uint32_t bulk_max_mib = 5;
  // Connections kept open for reuse (HTTP keep-alive), 0..64; 0 closes each after its
  // request. Default: 4
  uint32_t keep_alive_connections = 4;
  // Timeout of one bulk request (connect + send + response), 1..600 s. Default: 60
  uint32_t request_timeout_s = 60;
};

struct DestinationOptions {
  // Default: a file destination under ./output
  std::variant<FileDestinationOptions, OpenSearchDestinationOptions> options;
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
  // Deepest nesting of arrays and objects in a record's JSON, 1..1000. A deeper record is
  // not parsed (so no input can exhaust memory or the stack): processors fail it as
  // ProcessingFailed, destinations as InvalidDocument, and it goes to the backup.
  // Default: 100
  uint32_t max_document_depth = kDefaultMaxDocumentDepth;
  // Region and account for ARNs handed to Lambda processors (serve fills in the server's).
  AwsAccount account;
};

Status ValidatePipelineOptions(const PipelineOptions& options);
// The destination part of that, on its own: MakeOpenSearchDestination checks with it too, for a
// destination built without a pipeline (a redrive).
Status ValidateOpenSearchDestination(const OpenSearchDestinationOptions& options);

}  // namespace tideline::pipeline
