// The Pipeline implementation. Private to pipeline/.
//
// Threads: a supervisor (waits for the source stream, starts one reader per shard and one for
// each shard a reshard makes, restarts them all when the stream is deleted and created again),
// the readers (read -> transform -> Seal -> buffer), and one delivery thread (buffer ->
// destination -> backup -> checkpoints).
//
// Lineage (lineage.cc), as the KCL does it: a shard with parents is read only once every parent
// is finished: gone by retention, or closed with its checkpoint at its ending offset (so every
// record of it was delivered or backed up) and its own parents finished. A child's reader waits
// for that before it resumes, woken by lineage_cv_ (a flush's checkpoints were written, or a
// reader finished its shard) and, to see retention and checkpoints set from outside, every few
// seconds. A reader at a closed shard's end waits until delivery has checkpointed what it read,
// moves the checkpoint to the ending offset if trimmed or absent records left it below, and
// tells the waiting children.
//
// Locks: mu_ guards state_, message_, shards_ (the map, not the counters' atomics) and each
// ShardStats::read_error; it is never held while calling the store, a processor or the
// destination. FlushBuffer has its own lock, never taken with mu_ held. checkpoint_mu_
// serializes epoch_ changes with checkpoint writes (it is held across Store::SetCheckpoints,
// never with mu_ held). lineage_mu_ guards lineage_events_ only and is taken alone. Lock order:
// lifecycle_mu_ -> checkpoint_mu_ -> mu_.
//
// Reset epochs: epoch_ counts Resets. A reader stamps the epoch it resumed under on every
// batch; delivery drops batches of an older epoch before delivering them, and moves a checkpoint
// only while, under checkpoint_mu_, the flush's epoch is still current. Reset bumps the epoch
// under checkpoint_mu_ before it stops anything, so no batch read before a Reset can move a
// checkpoint past the reset position, whatever was buffered or in delivery at the time. A
// reader that sees the epoch move stops reading (its batches would be dropped) and waits for
// Reset to replace it; it never resumes on its own, because until Reset has written the new
// checkpoints it would resume from the old ones under the new epoch.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "backup/backup_writer.h"
#include "core/flush_buffer.h"
#include "core/pipeline_log.h"
#include "core/stop_wait.h"
#include "pipeline/destination.h"
#include "pipeline/pipeline.h"
#include "pipeline/processor.h"

namespace tideline::pipeline {

enum class ShardPhase : uint8_t { kReading, kWaitingForParents, kFinished };

// Per-shard counters, updated by the shard's reader and the delivery thread.
struct ShardStats {
  std::atomic<uint64_t> records_read{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> records_transformed{0};
  std::atomic<uint64_t> records_dropped{0};
  std::atomic<uint64_t> records_processing_failed{0};
  std::atomic<uint64_t> records_delivered{0};
  std::atomic<uint64_t> records_delivery_failed{0};
  std::atomic<uint64_t> records_expired{0};
  // The shard's newest record (offset, arrival) when last read, the arrival time of the last
  // record read, and the next offset the reader will read.
  std::atomic<uint64_t> last_offset{0};
  std::atomic<int64_t> last_arrival_ms{0};
  std::atomic<int64_t> read_arrival_ms{0};
  std::atomic<uint64_t> next_offset{0};
  // Reads (or resumes) that failed, and whether the last one did. read_error is the last
  // failure's message, GUARDED_BY(PipelineImpl::mu_); read_failing lets the reader's hot path
  // see without the lock that there is nothing to clear.
  std::atomic<uint64_t> read_errors{0};
  std::atomic<bool> read_failing{false};
  std::string read_error;
  // Where the reader is in the shard's lineage (ShardStatus::state), and the parents it waits
  // for, GUARDED_BY(PipelineImpl::mu_).
  std::atomic<ShardPhase> phase{ShardPhase::kReading};
  std::vector<std::string> waiting_for;
};

class PipelineImpl final : public Pipeline {
 public:
  PipelineImpl(PipelineOptions options, storage::Store& store,
               std::vector<std::unique_ptr<Processor>> processors,
               std::unique_ptr<Destination> destination, std::unique_ptr<BackupWriter> backup);
  ~PipelineImpl() override;

  void Start();
  void Stop() override;
  Status Reset(const storage::StreamPosition& position) override;
  PipelineStatus GetStatus() const override;
  const PipelineOptions& options() const override { return options_; }

 private:
  struct ShardSource {
    ShardId shard;
    ShardUid uid{0};
    ShardStats* stats = nullptr;
    // ParentShardId and AdjacentParentShardId, those that are set.
    std::vector<ShardId> parents;
  };

  // pipeline.cc
  void StartThreads();
  // Stops the readers, then delivery (bounded by kDrainTimeout), and joins them.
  void StopThreads();
  // The checkpoints `position` means for the current stream (reset.cc).
  Result<std::vector<storage::Store::ShardCheckpoint>> ResetCheckpoints(
      const storage::StreamPosition& position) const;
  void Supervise(std::stop_token stop);
  void SetState(PipelineState state, std::string message);
  ShardStats& StatsFor(const std::string& shard_id);

  // shard_reader.cc
  void ReadShard(std::stop_token stop, ShardSource source);
  Result<uint64_t> ResumeOffset(const ShardSource& source);
  // Resumes under the current epoch, retrying until it works; false when stopped or the stream
  // is gone. Sets *epoch and *next.
  bool Resume(std::stop_token stop, const ShardSource& source, uint64_t* epoch, uint64_t* next);
  // A shard's read (or resume) failed / worked: its state in GetStatus.
  void ReadFailed(const ShardSource& source, const Status& error);
  void ReadWorked(const ShardSource& source);
  void RecordReadDelays(const RecordBatch& batch, int64_t now_ms);

  // lineage.cc
  // Writes a starting checkpoint for every shard of `info` that has none: the configured start,
  // except TRIM_HORIZON instead of LATEST for a descendant of a shard the pipeline already
  // reads (as the KCL starts new child shards). False when the write failed (logged).
  bool InitCheckpoints(const storage::StreamInfo& info);
  // Blocks until every parent of `source` is finished; false when stopped or the stream is gone.
  bool WaitForParents(std::stop_token stop, const ShardSource& source);
  // At a closed shard's end: waits until the checkpoint covers `read_through` (the last offset
  // this reader handed to the buffer, 0 for none), raises it to `ending_offset`, marks the shard
  // finished and wakes the children. False when stopped, reset or the stream is gone first.
  bool FinishShard(std::stop_token stop, const ShardSource& source, uint64_t epoch,
                   uint64_t read_through, uint64_t ending_offset);
  // Lineage events: a flush's checkpoints were written (what readers at a shard's end wait
  // for), or a shard finished (what children wait for). The count of `event`s so far, a wait
  // (bounded by `timeout`) for the next one, and telling the waiters.
  enum LineageEvent { kFlushCheckpointed = 0, kShardFinished = 1 };
  uint64_t LineageEvents(LineageEvent event);
  void WaitForLineageEvent(std::stop_token stop, LineageEvent event, uint64_t seen,
                           std::chrono::milliseconds timeout);
  void NotifyLineage(LineageEvent event);

  // delivery.cc
  void DeliverLoop(std::stop_token stop);
  // Delivers one flush, backs up failures and moves the checkpoints; false when stopped before
  // the flush was done (its records will be read again).
  bool DeliverFlush(std::vector<std::unique_ptr<RecordBatch>>& batches, std::stop_token stop);
  bool CommitBackup(std::stop_token stop);
  // Runs `attempt` until it returns OK. While it fails, the pipeline is `stalled` with
  // "<what>: <error>", each failure is logged at `level`, and tries are spaced by a doubling
  // backoff. False when stop was requested first.
  bool RetryUntilOk(std::stop_token stop, const std::string& what, spdlog::level::level_enum level,
                    const std::function<Status()>& attempt);
  bool MoveCheckpoints(const std::vector<std::unique_ptr<RecordBatch>>& batches, uint64_t epoch,
                       std::stop_token stop);

  const PipelineOptions options_;
  storage::Store& store_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<Processor>> processors_;
  std::unique_ptr<Destination> destination_;
  std::unique_ptr<BackupWriter> backup_;
  FlushBuffer buffer_;

  mutable std::mutex mu_;
  PipelineState state_ = PipelineState::kStarting;             // GUARDED_BY(mu_)
  std::string message_;                                        // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<ShardStats>> shards_;  // GUARDED_BY(mu_)

  std::atomic<uint64_t> flushes_{0};
  // Moving average of a flush's delivery time (ms); the delivery thread's own.
  double delivery_ms_ = 0;
  std::array<std::atomic<uint64_t>, std::size(kReadDelayBucketsMs) + 1> read_delay_{};

  // Bounds the last flush at Stop(); see DeliverLoop.
  std::stop_source drain_;
  bool delivery_done_ = false;  // GUARDED_BY(mu_)
  std::condition_variable delivery_done_cv_;

  // See "Reset epochs" above. Starts at 1 so that a batch never stamped (0) is never current.
  std::mutex checkpoint_mu_;
  std::atomic<uint64_t> epoch_{1};

  // Lineage events (see above): a counter, so that a waiter misses none between looking at the
  // store and waiting.
  std::mutex lineage_mu_;
  std::array<uint64_t, 2> lineage_events_{};  // by LineageEvent, GUARDED_BY(lineage_mu_)
  std::array<std::condition_variable_any, 2> lineage_cv_;

  // Serializes Stop and Reset, which stop and restart the threads below.
  std::mutex lifecycle_mu_;
  bool stopped_ = false;  // GUARDED_BY(lifecycle_mu_)
  std::jthread delivery_;
  std::jthread supervisor_;
};

// Builds a processor from its options (pipeline name/region/account fill Lambda's ARNs).
Result<std::unique_ptr<Processor>> MakeProcessor(const ProcessorOptions& processor,
                                                 const PipelineOptions& pipeline);

}  // namespace tideline::pipeline
