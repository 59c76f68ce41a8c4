// One shard's reader: wait for the shard's parents (lineage.cc), resume after the checkpoint,
// read, transform, hand to the buffer; at a closed shard's end, finish it for its children.
#include "common/clock.h"
#include "core/pipeline_impl.h"
#include "storage/sequence_number.h"

namespace tideline::pipeline {
namespace {

constexpr std::chrono::milliseconds kIdleWait{1000};
constexpr std::chrono::milliseconds kErrorPause{1000};

}  // namespace

Result<uint64_t> PipelineImpl::ResumeOffset(const ShardSource& source) {
  const StreamName& stream = options_.source.stream;
  auto cp = store_.GetCheckpoint(CheckpointOwner(options_.name), stream, source.shard);
  if (cp.ok()) {
    // A checkpoint of an earlier stream of the same name (deleted, then created again) names
    // another shard uid: it does not apply.
    if (OffsetInShard(source.uid, cp->sequence_number.get())) return cp->offset.get() + 1;
    log_->warn("pipeline {}: ignoring checkpoint {} of an earlier {}", options_.name,
               cp->sequence_number.get(), stream.get());
  } else if (cp.status().code() != StatusCode::kNotFound) {
    return cp.status();
  }
  // The supervisor writes a starting checkpoint for every shard (InitCheckpoints) before its
  // reader starts; should there be none all the same, the configured start.
  auto start = store_.ResolvePosition(stream, source.shard, options_.source.start);
  if (!start.ok()) return start.status();
  // Written at once so that LATEST / AT_TIMESTAMP mean the same position after a restart.
  const storage::Store::ShardCheckpoint first{
      source.shard, SequenceNumberOf(source.uid, Offset(start->get() - 1))};
  TL_RETURN_IF_ERROR(
      store_.SetCheckpoints(CheckpointOwner(options_.name), stream, std::span(&first, 1)));
  log_->info("pipeline {}: {} starts at offset {}", options_.name, source.shard.get(),
             start->get());
  return start->get();
}

void PipelineImpl::RecordReadDelays(const RecordBatch& batch, int64_t now_ms) {
  std::array<uint64_t, std::size(kReadDelayBucketsMs) + 1> local{};
  for (const PipelineRecord& r : batch.records()) {
    const int64_t delay = now_ms - r.arrival_ms;
    size_t i = 0;
    while (i < std::size(kReadDelayBucketsMs) && delay > kReadDelayBucketsMs[i])
      ++i;
    ++local[i];
  }
  for (size_t i = 0; i < local.size(); ++i) {
    if (local[i] != 0) read_delay_[i].fetch_add(local[i], std::memory_order_relaxed);
  }
}

void PipelineImpl::ReadFailed(const ShardSource& source, const Status& error) {
  ShardStats& stats = *source.stats;
  stats.read_errors.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats.read_error = error.ToString();
  }
  if (!stats.read_failing.exchange(true, std::memory_order_relaxed)) {
    log_->error("pipeline {}: reading {} failed; retrying every {} ms: {}", options_.name,
                source.shard.get(), kErrorPause.count(), error.ToString());
  } else {
    log_->debug("pipeline {}: reading {} failed again: {}", options_.name, source.shard.get(),
                error.ToString());
  }
}

void PipelineImpl::ReadWorked(const ShardSource& source) {
  ShardStats& stats = *source.stats;
  if (!stats.read_failing.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats.read_error.clear();
  }
  stats.read_failing.store(false, std::memory_order_relaxed);
  log_->info("pipeline {}: reading {} works again", options_.name, source.shard.get());
}

bool PipelineImpl::Resume(std::stop_token stop, const ShardSource& source, uint64_t* epoch,
                          uint64_t* next) {
  while (!stop.stop_requested()) {
    // Read before the checkpoint: a Reset that moves the checkpoint after this bumps the epoch,
    // and the reader resumes again.
    *epoch = epoch_.load(std::memory_order_acquire);
    auto resumed = ResumeOffset(source);
    if (resumed.ok()) {
      *next = *resumed;
      return true;
    }
    if (resumed.status().code() == StatusCode::kNotFound) return false;  // stream deleted
    ReadFailed(source, resumed.status());
    if (!WaitUnlessStopped(stop, kErrorPause)) return false;
  }
  return false;
}

void PipelineImpl::ReadShard(std::stop_token stop, ShardSource source) {
  const StreamName& stream = options_.source.stream;
  ShardStats& stats = *source.stats;
  uint64_t epoch = 0;
  uint64_t next = 0;
  stats.phase.store(ShardPhase::kReading);
  if (!WaitForParents(stop, source)) return;
  if (!Resume(stop, source, &epoch, &next)) return;
  // The last offset this reader handed to the buffer (0: none yet).
  uint64_t read_through = 0;
  const storage::ReadLimits limits{options_.source.read_max_records,
                                   options_.source.read_max_bytes};
  while (!stop.stop_requested()) {
    // A Reset is under way: it bumped the epoch and will stop this reader, then start a new one
    // from the moved checkpoints. Whatever this one reads now would be dropped.
    if (epoch_.load(std::memory_order_acquire) != epoch) return;
    stats.next_offset.store(next, std::memory_order_relaxed);
    auto batch = std::make_unique<RecordBatch>(stream, source.shard, source.uid,
                                               options_.max_document_depth);
    batch->set_epoch(epoch);
    auto read =
        store_.Read(stream, source.shard, Offset(next), limits, [&](const storage::RecordView& v) {
          // Reserved at the first record: an idle shard's empty reads allocate nothing.
          if (batch->records().empty()) batch->records().reserve(limits.max_records);
          batch->Add(v.offset, v.arrival_ms, v.partition_key, v.data);
        });
    if (!read.ok()) {
      if (read.status().code() == StatusCode::kNotFound) return;
      ReadFailed(source, read.status());
      if (!WaitUnlessStopped(stop, kErrorPause)) return;
      continue;
    }
    ReadWorked(source);
    stats.last_arrival_ms.store(read->last_arrival_ms, std::memory_order_relaxed);
    stats.last_offset.store(read->last_offset.get(), std::memory_order_relaxed);
    const uint64_t first =
        batch->records().empty() ? read->next.get() : batch->records().front().offset.get();
    if (first > next) {
      // Retention removed these before the pipeline got to them; Kinesis readers see the same.
      stats.records_expired.fetch_add(first - next, std::memory_order_relaxed);
      log_->warn("pipeline {}: {} records of {} expired before they were read", options_.name,
                 first - next, source.shard.get());
    }
    next = read->next.get();
    if (batch->records().empty()) {
      // A closed shard read to its end (a reshard replaced it): nothing more will come. Once
      // what was read is delivered, its children may be read.
      if (read->shard_end) {
        FinishShard(stop, source, epoch, read_through, read->last_offset.get());
        return;
      }
      auto waited = store_.WaitForRecords(stream, source.shard, Offset(next - 1), kIdleWait);
      if (!waited.ok() && waited.status().code() == StatusCode::kNotFound) return;
      continue;
    }
    RecordReadDelays(*batch, WallClockMs());
    stats.records_read.fetch_add(batch->records().size(), std::memory_order_relaxed);
    stats.bytes_read.fetch_add(batch->raw_bytes(), std::memory_order_relaxed);
    stats.read_arrival_ms.store(batch->records().back().arrival_ms, std::memory_order_relaxed);
    stats.next_offset.store(next, std::memory_order_relaxed);

    for (const auto& processor : processors_)
      processor->Process(*batch);
    uint64_t dropped = 0;
    uint64_t failed = 0;
    for (const PipelineRecord& r : batch->records()) {
      dropped += r.result == RecordResult::kDropped;
      failed += r.result == RecordResult::kProcessingFailed;
    }
    stats.records_transformed.fetch_add(batch->records().size() - dropped - failed,
                                        std::memory_order_relaxed);
    stats.records_dropped.fetch_add(dropped, std::memory_order_relaxed);
    stats.records_processing_failed.fetch_add(failed, std::memory_order_relaxed);
    read_through = batch->records().back().offset.get();
    batch->Seal();
    if (!buffer_.Push(std::move(batch), stop)) return;
  }
}

}  // namespace tideline::pipeline
