// A running pipeline: one reader per shard of the source stream, the transform chain, a
// Firehose-style buffer, the destination and the backup, moving the checkpoints.
//
// Checkpoint rule: a shard's checkpoint moves to N only when every record <= N was delivered,
// dropped by a processor, or durably backed up. Checkpoints move once per flush, for all shards
// in one synced write. Delivery is at-least-once: after a crash, records after the checkpoint
// are read again; destinations keep them once by their stable document ids.
//
// Memory: each reader holds at most one batch in the transform chain (SourceOptions'
// read_max_records / read_max_bytes of data, plus its parsed JSON), and readers stop reading
// while buffered and in-delivery batches hold max(8 x buffer.size_mib, 32) MiB (their memory,
// about 3.3x their data for access logs). So a pipeline's memory is bounded by that plus
// shards x (read batch + its JSON), whatever the backlog: 40 MiB + 4 x ~4 MiB at the default
// 5 MiB buffer and 4 shards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pipeline/destination.h"
#include "pipeline/options.h"
#include "storage/store.h"

namespace tideline {
class PrometheusWriter;
}

namespace tideline::pipeline {

// Counters only ever grow (Prometheus counters); in/out pairs per stage.
struct ShardCounters {
  uint64_t records_read = 0;
  uint64_t bytes_read = 0;
  uint64_t records_transformed = 0;        // out of the processors as documents
  uint64_t records_dropped = 0;            // by a processor
  uint64_t records_processing_failed = 0;  // by a processor, sent to the backup
  uint64_t records_delivered = 0;
  uint64_t records_delivery_failed = 0;  // refused by the destination, sent to the backup
  uint64_t records_expired = 0;          // trimmed by retention before the pipeline read them
  uint64_t read_errors = 0;              // store reads (or resumes from the checkpoint) that failed
};

struct ShardStatus {
  std::string shard_id;
  // "reading"; "waiting_for_parents" while a child shard waits for the shards in waiting_for
  // (its parents after a reshard) to be delivered to their end; "finished" once a closed shard
  // is delivered and checkpointed to its end; or "read_failing" while the reader's reads fail
  // (it retries every second; the first read that works brings it back), with the last failure
  // in last_error.
  std::string state = "reading";
  std::string last_error;
  std::vector<std::string> waiting_for;
  // Last handled record: sequence number ("" when none) and offset (0 when none).
  std::string checkpoint;
  uint64_t checkpoint_offset = 0;
  // Highest offset in the shard; lag = last_offset - checkpoint_offset.
  uint64_t last_offset = 0;
  // Arrival time of the newest record minus that of the last record read (Kinesis's
  // MillisBehindLatest for this reader); 0 when caught up.
  int64_t millis_behind_latest = 0;
  ShardCounters counters;
};

// What a pipeline is doing. Status JSON, metrics and logs show it by PipelineStateName:
// "starting" (the source stream not looked up yet), "waiting for stream" (it does not exist
// yet), "running", "retrying" (the destination is retrying failed documents within its retry
// duration: see message), "stalled" (destination or backup failing, nothing moves until it
// works: see message), "stopped".
enum class PipelineState { kStarting, kWaitingForStream, kRunning, kRetrying, kStalled, kStopped };

// "starting", "waiting for stream", "running", "retrying", "stalled" or "stopped".
std::string_view PipelineStateName(PipelineState state);

struct PipelineStatus {
  std::string name;
  std::string stream;
  std::string destination;  // "file:<dir>"
  PipelineState state = PipelineState::kStarting;
  std::string message;
  uint64_t buffered_records = 0;
  uint64_t buffered_bytes = 0;
  uint64_t flushes = 0;
  // Age (ms) of the oldest record read and not yet delivered or backed up: Firehose's
  // DataFreshness. 0 when everything read is settled.
  int64_t data_freshness_ms = 0;
  // "file", "opensearch", and the destination's own counters.
  std::string destination_type;
  DestinationCounters destination_counters;
  // Backup lines made durable, by file kind.
  uint64_t backup_processing_failed = 0;
  uint64_t backup_delivery_failed = 0;
  uint64_t backup_all_documents = 0;
  std::vector<ShardStatus> shards;
  // Append-to-read delay of records read (ms): how long a record waited in the store before
  // its reader picked it up, as a cumulative histogram over kReadDelayBucketsMs.
  std::vector<uint64_t> read_delay_buckets;
  uint64_t read_delay_count = 0;
};

// Upper bounds (ms) of the read-delay histogram buckets; the last bucket is +Inf.
inline constexpr int64_t kReadDelayBucketsMs[] = {1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000, 30000};

class Pipeline {
 public:
  // Validates the options, builds the processors, destination and backup (failing with a clear
  // message, e.g. an unopenable GeoIP database) and starts the threads. The store must outlive
  // the pipeline. A source stream that does not exist yet is waited for.
  static Result<std::unique_ptr<Pipeline>> Start(const PipelineOptions& options,
                                                 storage::Store& store);
  // The same with parts built by the caller (tests, embedders): `processors` replace
  // options.processors and `destination` replaces options.destination.
  static Result<std::unique_ptr<Pipeline>> StartWith(
      const PipelineOptions& options, storage::Store& store,
      std::vector<std::unique_ptr<Processor>> processors, std::unique_ptr<Destination> destination);

  virtual ~Pipeline() = default;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Stops reading, delivers what is buffered when the destination takes it at once, moves the
  // checkpoints for it, and joins the threads. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
  // Moves the checkpoints to `position` so that the next record read is the one it names:
  // TRIM_HORIZON, LATEST and AT_TIMESTAMP move every shard; AT_SEQUENCE_NUMBER and
  // AFTER_SEQUENCE_NUMBER move only the shard the sequence number belongs to. Records are read,
  // transformed and delivered again (with stable ids the index keeps each once): stops the readers
  // and delivery (the flush in progress gets the same few seconds as at Stop), writes every moved
  // shard's checkpoint in one synced batch, and starts reading again. Fails (changing nothing) when
  // the stream does not exist or the sequence number is not one of its records.
  virtual Status Reset(const storage::StreamPosition& position) = 0;
  virtual PipelineStatus GetStatus() const = 0;
  virtual const PipelineOptions& options() const = 0;

 protected:
  Pipeline() = default;
};

// Text of a status for people (`tideline pipeline status`) is rendered by the CLI from the JSON
// the server serves; this is the JSON form, shared by server and tests.
std::string PipelineStatusJson(const std::vector<PipelineStatus>& statuses);
// Prometheus families of the statuses' counters, gauges and read-delay histogram.
void WritePipelineMetrics(PrometheusWriter& w, const std::vector<PipelineStatus>& statuses);
// The same as text.
std::string PipelineMetricsText(const std::vector<PipelineStatus>& statuses);

}  // namespace tideline::pipeline
