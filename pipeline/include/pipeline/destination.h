// Destinations: where a pipeline's transformed documents go (the Firehose destination).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "pipeline/options.h"

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
  // The index to use instead of the destination's rotated one (a redrive sends a backed-up
  // document to the index it was meant for). Empty: the destination decides.
  std::string_view index;
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
  // The destination let the cluster choose the document's id (so the backup records none).
  bool auto_id = false;
};

// A destination's own counters (Prometheus counters: they only grow), for GET /metrics.
struct DestinationCounters {
  // Requests sent: _bulk requests, file appends.
  uint64_t requests = 0;
  // Requests without a usable answer: connection errors, timeouts, whole-request errors.
  uint64_t request_failures = 0;
  // Documents sent again after a retryable failure.
  uint64_t documents_retried = 0;
  // Request bytes sent (compressed when gzip is on).
  uint64_t bytes_sent = 0;
  // Document outcomes by the status the destination gave them ("201", "409", "429", "400", ...),
  // sorted by status.
  std::vector<std::pair<std::string, uint64_t>> documents_by_status;
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
  // A snapshot of the counters; may be called from any thread, also during Deliver.
  virtual DestinationCounters counters() const { return {}; }
  // While a Deliver call is retrying failed documents: why ("503 from http://..."); empty
  // otherwise. May be called from any thread.
  virtual std::string retrying() const { return {}; }
};

// NDJSON files under <options.path>/<pipeline>/, one line per document:
// {"id", "stream", "shard", "sequenceNumber", "approximateArrivalTimestamp", "document"}.
// A document that is not a JSON object fails (code "InvalidDocument"), as OpenSearch would
// refuse it (so does one nested deeper than `max_document_depth`). Files rotate by size and
// age; Deliver returns after the lines are fsynced.
Result<std::unique_ptr<Destination>> MakeFileDestination(
    const FileDestinationOptions& options, const std::string& pipeline_name,
    uint32_t max_document_depth = kDefaultMaxDocumentDepth);

// OpenSearch via POST /_bulk (see OpenSearchDestinationOptions and pipeline/PIPELINE.md): index
// rotation on arrival time, stable ids sent as `create`, per-item retries with backoff until
// the retry duration is spent, then failure (the pipeline backs the documents up). A document
// reported delivered was acknowledged by the cluster. Deliver returns non-OK only when stopped.
// Fails on invalid options (bad URL, index name); an unreachable cluster is not an error here.
// A source nested deeper than `max_document_depth` is an InvalidDocument.
Result<std::unique_ptr<Destination>> MakeOpenSearchDestination(
    const OpenSearchDestinationOptions& options,
    uint32_t max_document_depth = kDefaultMaxDocumentDepth);

}  // namespace tideline::pipeline
