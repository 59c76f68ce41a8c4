// The delivery thread: buffer -> destination -> backup -> checkpoints, in that order, so a
// checkpoint never passes a record that is not delivered, dropped or durably backed up.
#include <map>

#include "common/clock.h"
#include "core/pipeline_impl.h"
#include "storage/sequence_number.h"

namespace tideline::pipeline {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};

// Stable document ids and sequence numbers of one flush, in one buffer.
struct FlushDocuments {
  std::string text;
  std::vector<Document> docs;
  std::vector<ShardStats*> stats;  // per document
};

}  // namespace

void PipelineImpl::DeliverLoop(std::stop_token stop) {
  while (true) {
    std::vector<std::unique_ptr<RecordBatch>> batches = buffer_.Take(stop);
    if (!batches.empty()) {
      // Once stopping, the last flush runs under the drain token: Stop() gives it a few
      // seconds before it gives up (the records are then read again after a restart).
      const auto started = std::chrono::steady_clock::now();
      const bool done =
          DeliverFlush(batches, stop.stop_requested() ? drain_.get_token() : std::stop_token(stop));
      if (done) {
        // A moving average, so one slow flush (a retry) does not pull the next ones far ahead.
        const double took =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        delivery_ms_ = delivery_ms_ == 0 ? took : 0.7 * delivery_ms_ + 0.3 * took;
        buffer_.SetDeliveryEstimate(std::chrono::milliseconds(static_cast<int64_t>(delivery_ms_)));
      }
      batches.clear();
      buffer_.FlushDone();
      if (!done && !stop.stop_requested()) continue;
    }
    if (stop.stop_requested()) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  delivery_done_ = true;
  delivery_done_cv_.notify_all();
}

bool PipelineImpl::DeliverFlush(std::vector<std::unique_ptr<RecordBatch>>& batches,
                                std::stop_token stop) {
  // Batches read before the last Reset are neither delivered nor checkpointed: the readers read
  // their records again from the reset position.
  const uint64_t epoch = epoch_.load(std::memory_order_acquire);
  const size_t stale = std::erase_if(batches, [&](const auto& b) { return b->epoch() != epoch; });
  if (stale > 0) {
    log_->info("pipeline {}: dropped {} batches read before the reset", options_.name, stale);
  }
  if (batches.empty()) return true;
  // Documents for every Ok record. Ids and sequence numbers go into one buffer first; views
  // into it are taken once it has stopped growing.
  FlushDocuments flush;
  std::vector<std::pair<PipelineRecord*, RecordBatch*>> sources;
  for (auto& batch : batches) {
    for (PipelineRecord& r : batch->records()) {
      if (r.ok()) sources.emplace_back(&r, batch.get());
    }
  }
  const size_t seq_len = kSequenceNumberDigits;
  std::vector<size_t> id_at(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& [r, b] = sources[i];
    id_at[i] = flush.text.size();
    flush.text.append(b->stream().get()).append("-").append(b->SequenceNumberOf(*r).get());
  }
  flush.docs.resize(sources.size());
  ShardStats* stats = nullptr;
  std::string_view stats_shard;
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& [r, b] = sources[i];
    const size_t end = i + 1 < sources.size() ? id_at[i + 1] : flush.text.size();
    Document& d = flush.docs[i];
    d.id = std::string_view(flush.text).substr(id_at[i], end - id_at[i]);
    d.sequence_number = d.id.substr(d.id.size() - seq_len);
    d.body = r->data;
    d.body_is_json_object = r->is_json_object;
    d.stream = b->stream().get();
    d.shard = b->shard().get();
    d.arrival_ms = r->arrival_ms;
    if (stats == nullptr || stats_shard != d.shard) {
      stats = &StatsFor(b->shard().get());
      stats_shard = d.shard;
    }
    flush.stats.push_back(stats);
  }

  std::vector<DeliveryResult> results(flush.docs.size());
  if (!flush.docs.empty() && !RetryUntilOk(stop, "destination", spdlog::level::warn, [&] {
        return destination_->Deliver(flush.docs, results, stop);
      })) {
    return false;
  }

  const int64_t now = WallClockMs();
  for (auto& batch : batches) {
    for (const PipelineRecord& r : batch->records()) {
      if (r.result == RecordResult::kProcessingFailed) backup_->AddProcessingFailed(*batch, r, now);
    }
  }
  for (size_t i = 0; i < flush.docs.size(); ++i) {
    if (results[i].delivered) {
      backup_->AddDeliveredDocument(flush.docs[i], results[i], now);
    } else {
      backup_->AddFailedDocument(flush.docs[i], results[i], now);
    }
  }
  if (!CommitBackup(stop)) return false;
  for (size_t i = 0; i < flush.docs.size(); ++i) {
    auto& counter = results[i].delivered ? flush.stats[i]->records_delivered
                                         : flush.stats[i]->records_delivery_failed;
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  if (!MoveCheckpoints(batches, epoch, stop)) return false;
  // A reader at its closed shard's end may be waiting for these checkpoints (once a flush).
  NotifyLineage(kFlushCheckpointed);
  flushes_.fetch_add(1, std::memory_order_relaxed);
  SetState(PipelineState::kRunning, "");
  log_->debug("pipeline {}: flushed {} documents from {} batches", options_.name, flush.docs.size(),
              batches.size());
  return true;
}

bool PipelineImpl::CommitBackup(std::stop_token stop) {
  if (backup_->pending() == 0) return true;
  // Data at risk: the records stay unacknowledged (no checkpoint) until the backup works.
  return RetryUntilOk(stop, "backup under " + backup_->directory(), spdlog::level::err,
                      [&] { return backup_->Commit(); });
}

bool PipelineImpl::MoveCheckpoints(const std::vector<std::unique_ptr<RecordBatch>>& batches,
                                   uint64_t epoch, std::stop_token stop) {
  // Batches of a shard arrive in read order, so its last batch holds its highest offset.
  std::map<std::string, storage::Store::ShardCheckpoint> latest;
  for (const auto& b : batches) {
    if (b->records().empty()) continue;
    latest[b->shard().get()] = {b->shard(), b->SequenceNumberOf(b->records().back())};
  }
  std::vector<storage::Store::ShardCheckpoint> checkpoints;
  for (auto& [shard, cp] : latest)
    checkpoints.push_back(std::move(cp));
  if (checkpoints.empty()) return true;
  return RetryUntilOk(stop, "checkpoint", spdlog::level::err, [&] {
    // Held across the write so that a Reset's epoch bump comes strictly before or after it.
    std::lock_guard<std::mutex> cp_lock(checkpoint_mu_);
    if (epoch_.load(std::memory_order_acquire) != epoch) {
      log_->info("pipeline {}: not checkpointing a flush read before the reset", options_.name);
      return Status::Ok();
    }
    const Status st =
        store_.SetCheckpoints(CheckpointOwner(options_.name), options_.source.stream, checkpoints);
    if (st.code() == StatusCode::kNotFound || st.code() == StatusCode::kInvalidArgument) {
      // The stream was deleted (and maybe created again): these records' checkpoints are gone
      // with it.
      log_->info("pipeline {}: not checkpointing records of a deleted stream: {}", options_.name,
                 st.ToString());
      return Status::Ok();
    }
    return st;
  });
}

bool PipelineImpl::RetryUntilOk(std::stop_token stop, const std::string& what,
                                spdlog::level::level_enum level,
                                const std::function<Status()>& attempt) {
  auto backoff = kFirstBackoff;
  while (true) {
    const Status st = attempt();
    if (st.ok()) return true;
    if (stop.stop_requested()) return false;
    SetState(PipelineState::kStalled, what + ": " + st.ToString());
    log_->log(level, "pipeline {}: {} failed; not advancing, retrying in {} ms: {}", options_.name,
              what, backoff.count(), st.ToString());
    if (!WaitUnlessStopped(stop, backoff)) return false;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace tideline::pipeline
