// Destinations: where a pipeline's transformed documents go (the Firehose destination).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "pipeline/options.h"
#include "storage/status.h"

namespace tideline::pipeline {

// One document to deliver. Views stay valid for the duration of Deliver.
struct Document {
  // Stable id derived from (stream, shard, sequence number): "<stream>-<sequence number>".
  // A redelivered record gets the same id, so an idempotent destination keeps it once.
  std::string_view id;
  // The transformed record, normally a JSON object.
  std::string_view body;
  // True when the pipeline already knows body is one JSON object (it was parsed as one).
  bool body_is_json_object = false;
  std::string_view stream;
  std::string_view shard;
  std::string_view sequence_number;
  int64_t arrival_ms = 0;
};

// What became of one document.
struct DeliveryResult {
  bool delivered = false;
  // For a failed document: Firehose's errorCode / errorMessage in the backup record.
  std::string error_code;
  std::string error_message;
  // Attempts made (Firehose's attemptsMade).
  int attempts = 1;
  // Index (OpenSearch) or file the document was meant for, for the backup record.
  std::string target;
};

class Destination {
 public:
  virtual ~Destination() = default;
  // "file", "opensearch": the backup directory's "<type>-failed" prefix.
  virtual std::string_view type() const = 0;
  // Where documents go, for status output: "file:output/access-logs".
  virtual std::string description() const = 0;
  // Delivers `docs`, filling results[i] for docs[i]. A document reported delivered is durable at
  // the destination (fsynced file, acknowledged index); one reported failed failed permanently
  // or exhausted the retry budget and goes to the backup. Returns non-OK only when it could not
  // settle every document (stop requested, local I/O error): then the caller treats the whole
  // call as not done and retries it later, so nothing is lost (at-least-once).
  // Called by one thread at a time.
  virtual Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                         std::stop_token stop) = 0;
};

// NDJSON files under <options.path>/<pipeline>/, one line per document:
// {"id", "stream", "shard", "sequenceNumber", "approximateArrivalTimestamp", "document"}.
// A document that is not a JSON object fails (code "InvalidDocument"), as OpenSearch would
// refuse it. Files rotate by size and age; Deliver returns after the lines are fsynced.
Result<std::unique_ptr<Destination>> MakeFileDestination(const FileDestinationOptions& options,
                                                         const std::string& pipeline_name);

}  // namespace tideline::pipeline
