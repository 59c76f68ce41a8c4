// Transform processors: the Lambda part of a pipeline.
//
// A processor transforms the records of a batch whose result is kOk, in place: it may change a
// record's data (bytes or JSON), mark it kDropped, or mark it kProcessingFailed with an error
// code and message (RecordBatch::Fail). It never touches records already Dropped or Failed, and
// never adds or removes records (the checkpoint rule counts every record read).
//
// Thread safety: one processor instance serves every shard reader of its pipeline, so Process
// may run concurrently on different batches. Implementations keep no per-call state outside
// the batch, or guard it themselves.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/aws_account.h"
#include "common/status.h"
#include "pipeline/record_batch.h"

namespace tideline::pipeline {

class Processor {
 public:
  virtual ~Processor() = default;
  // The `type` name of the processor in the configuration, e.g. "access_log".
  virtual std::string_view type() const = 0;
  // Transforms the batch. A processor whose whole invocation fails (an unreachable Lambda after
  // its retries) marks every record it was given ProcessingFailed; it does not return an error.
  virtual void Process(RecordBatch& batch) = 0;
  // Releases what the processor holds outside this process (a Lambda subprocess is closed and
  // reaped) once no Process call runs; Pipeline::Stop calls it. A later Process starts again.
  virtual void Shutdown() {}
};

// ---- access_log: one web server access-log line per record -> a JSON object.
// Parses the Common Log Format (Apache `%h %l %u %t "%r" %>s %b`), and the combined format
// (Apache `... "%{Referer}i" "%{User-agent}i"` and Nginx's `combined`, which has the same shape)
// into the fields client_ip, ident, user, @timestamp (ISO-8601 UTC with milliseconds), method,
// path, protocol, status (number), bytes (number; "-" is 0), referrer, user_agent. Fields that
// are "-" in the log are left out (except bytes). A line that does not parse is
// ProcessingFailed with code "AccessLog.ParseFailed".
struct AccessLogOptions {
  // Keep the original line in this field; empty keeps nothing. Default: empty
  std::string keep_line_field;
};
Result<std::unique_ptr<Processor>> MakeAccessLogProcessor(const AccessLogOptions& options);

// ---- geoip: enrich from an IP address field with a MaxMind DB (GeoLite2/GeoIP2 City or
// Country, DB-IP, and optionally an ASN database).
// Adds under target_field: country_iso_code, country_name, city_name, location {lat, lon},
// asn, as_org, each only when the database has it. A private, reserved or unknown address, or
// a record without the field, gains nothing and stays Ok. Data that is not JSON fails.
struct GeoIpOptions {
  // Path of the .mmdb file. Required.
  std::string database;
  // Optional second .mmdb with autonomous_system_number/organization (GeoLite2-ASN).
  // Default: empty
  std::string asn_database;
  // Dotted path of the IP address. Default: client_ip
  std::string source_field = "client_ip";
  // Dotted path of the object to add. Default: geo
  std::string target_field = "geo";
  // Language of names. Default: en
  std::string language = "en";
};
// Fails (InvalidArgument naming the file) when a database cannot be opened.
Result<std::unique_ptr<Processor>> MakeGeoIpProcessor(const GeoIpOptions& options);

// ---- json: parse the record data as JSON. Data that is not a JSON object is ProcessingFailed
// with code "Json.ParseFailed".
Result<std::unique_ptr<Processor>> MakeJsonProcessor();

// ---- fields: edit JSON objects and add record metadata. Steps run in the order below.
enum class MetadataField {
  kSequenceNumber,     // "sequence_number": string
  kShardId,            // "shard_id": string
  kPartitionKey,       // "partition_key": string
  kStream,             // "stream": string
  kArrivalTimestamp,   // "arrival_timestamp": ISO-8601 UTC string with milliseconds
  kArrivalTimestampMs  // "arrival_timestamp_ms": number, ms since the epoch
};
struct FieldsOptions {
  // target path -> string value. Default: none
  std::vector<std::pair<std::string, std::string>> add;
  // from path -> to path; a missing source is not an error. Default: none
  std::vector<std::pair<std::string, std::string>> rename;
  // from path -> to path, copies. Default: none
  std::vector<std::pair<std::string, std::string>> copy;
  // paths to delete. Default: none
  std::vector<std::string> remove;
  // target path <- record metadata. Default: none
  std::vector<std::pair<std::string, MetadataField>> metadata;
};
Result<std::unique_ptr<Processor>> MakeFieldsProcessor(const FieldsOptions& options);

// ---- lambda: Firehose's data-transformation contract, over HTTP or a subprocess.
// Request: {"invocationId", "deliveryStreamArn", "sourceKinesisStreamArn", "region",
// "records": [{"recordId", "approximateArrivalTimestamp", "data" (base64),
// "kinesisRecordMetadata": {"shardId", "partitionKey", "approximateArrivalTimestamp",
// "sequenceNumber", "subsequenceNumber"}}]}.
// Response: {"records": [{"recordId", "result": "Ok"|"Dropped"|"ProcessingFailed",
// "data" (base64)}]}.
struct LambdaOptions {
  // Exactly one of url (HTTP POST of the JSON request) or command (a subprocess; see
  // pipeline/LAMBDA.md for its framing) must be set.
  std::string url;
  std::vector<std::string> command;
  // Most bytes of request (after base64) per invocation, 1 KiB..6 MB. Default: 1 MiB
  size_t max_batch_bytes = 1u << 20;
  // Most records per invocation. Default: 500
  size_t max_batch_records = 500;
  // Retries after a failed invocation (timeout, transport error, HTTP non-2xx, malformed
  // response), 0..300. Default: 3
  int retries = 3;
  // Per-invocation timeout. Default: 60 s
  std::chrono::milliseconds timeout{60'000};
  // Subprocess only. The child's environment is not tideline's (which may hold secrets such as
  // TIDELINE_OPENSEARCH_PASSWORD): it gets PATH (default /usr/local/bin:/usr/bin:/bin), HOME,
  // LANG, LC_ALL, TZ and TMPDIR when tideline has them, then the variables named in
  // inherit_environment that tideline has, then `environment` (which wins). Naming
  // TIDELINE_OPENSEARCH_PASSWORD in inherit_environment is an error. Default: none, none
  std::vector<std::pair<std::string, std::string>> environment;
  std::vector<std::string> inherit_environment;
  // Used for the ARNs in the request. Filled in by the pipeline.
  std::string pipeline_name;
  AwsAccount account;
};
Result<std::unique_ptr<Processor>> MakeLambdaProcessor(const LambdaOptions& options);

}  // namespace tideline::pipeline
