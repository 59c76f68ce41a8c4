// Retention: the background trimmer, TrimExpired and the clock they trust.
#include <cstdlib>

#include "keys.h"
#include "store_impl.h"

namespace tideline::storage {
namespace {

// How far the retention clock may run ahead of the monotonic time since Open, and how far the
// wall clock may stray from it before a warning. Retention is at least 24 hours, so at most
// this much of a record's retention can be lost to a forward step of the wall clock; NTP's
// slewing and small steps stay well inside it.
constexpr int64_t kClockStepToleranceMs = 5 * 60 * 1000;

}  // namespace

void StoreImpl::TrimmerLoop() {
  std::unique_lock<std::mutex> lock(trim_mu_);
  for (;;) {
    if (trim_cv_.wait_for(lock, options_.trim_interval, [this] { return trim_stop_; })) return;
    lock.unlock();
    auto removed = TrimExpired();
    if (!removed.ok()) {
      log_->warn("retention trim failed (will retry): {}", removed.status().ToString());
    } else if (*removed > 0) {
      log_->info("retention removed {} records", *removed);
    }
    lock.lock();
  }
}

Result<uint64_t> StoreImpl::TrimExpired() {
  std::vector<std::shared_ptr<StreamState>> streams;
  {
    std::shared_lock<std::shared_mutex> lock(streams_mu_);
    streams.reserve(streams_.size());
    for (const auto& [name, stream] : streams_)
      streams.push_back(stream);
  }
  const int64_t now = RetentionNowMs();
  uint64_t removed = 0;
  for (const auto& stream : streams) {
    const int64_t retention_ms = hooks_.retention_override.count() > 0
                                     ? hooks_.retention_override.count()
                                     : int64_t{stream->retention_hours.load()} * 3600 * 1000;
    auto n = TrimStream(*stream, now - retention_ms);
    if (!n.ok()) return n.status();
    removed += *n;
  }
  return removed;
}

// Removes every record with arrival < cutoff_ms and moves the trim offsets, atomically and
// durably (one sync WriteBatch holding the DeleteRanges and the new meta record).
Result<uint64_t> StoreImpl::TrimStream(StreamState& stream, int64_t cutoff_ms) {
  std::lock_guard<std::mutex> meta_lock(stream.meta_mu);
  if (stream.deleted.load()) return uint64_t{0};
  std::vector<uint64_t> trims;
  trims.reserve(stream.shards.size());
  rocksdb::WriteBatch batch;
  uint64_t removed = 0;
  for (const auto& shard : stream.shards) {
    const uint64_t trim = shard->trim_offset.load();
    auto keep = FirstOffsetAtOrAfter(*shard, cutoff_ms);
    if (!keep.ok()) return keep.status();
    if (*keep > trim) {
      auto s = batch.DeleteRange(records_cf_, keys::RecordKey(shard->uid, trim),
                                 keys::RecordKey(shard->uid, *keep));
      TL_RETURN_IF_ERROR(FromRocks(s, "building trim batch"));
      removed += *keep - trim;
      trims.push_back(*keep);
    } else {
      trims.push_back(trim);
    }
  }
  if (removed == 0) return uint64_t{0};
  batch.Put(meta_cf_, keys::StreamKey(stream.name),
            ToProto(stream, trims, proto::Stream::ACTIVE).SerializeAsString());
  TL_RETURN_IF_ERROR(FromRocks(db_->Write(SyncWrite(), &batch), "trimming " + stream.name));
  for (size_t i = 0; i < trims.size(); ++i)
    stream.shards[i]->trim_offset = trims[i];
  log_->debug("trimmed {} records of stream {}", removed, stream.name);
  return removed;
}

int64_t StoreImpl::RetentionNowMs() {
  const int64_t wall = NowMs();
  const int64_t bound = wall_at_open_ms_ + (MonotonicMs() - monotonic_at_open_ms_);
  const int64_t skew = wall - bound;
  // Log each new step once (not every trim pass), and once when the clocks agree again.
  const int64_t logged = logged_clock_skew_ms_.load(std::memory_order_relaxed);
  if (std::llabs(skew) > kClockStepToleranceMs) {
    if (std::llabs(skew - logged) > kClockStepToleranceMs) {
      logged_clock_skew_ms_.store(skew, std::memory_order_relaxed);
      log_->warn(
          "the wall clock is {} s {} the monotonic time since the store opened (a clock "
          "step?); retention counts from the earlier of the two until the store is reopened, "
          "so no record expires early",
          std::llabs(skew) / 1000, skew > 0 ? "ahead of" : "behind");
    }
  } else if (logged != 0) {
    logged_clock_skew_ms_.store(0, std::memory_order_relaxed);
    log_->info("the wall clock agrees with the monotonic time since open again");
  }
  return std::min(wall, bound + kClockStepToleranceMs);
}

void StoreImpl::CheckClockAtOpen() {
  int64_t newest = 0;
  for (const auto& [name, stream] : streams_) {
    for (const auto& shard : stream->shards)
      newest = std::max(newest, shard->last_arrival_ms.load());
  }
  if (newest - wall_at_open_ms_ > kClockStepToleranceMs) {
    log_->warn(
        "the wall clock is {} s behind the newest stored arrival time; new records get that "
        "arrival time (arrival times never decrease within a shard) until the clock catches up",
        (newest - wall_at_open_ms_) / 1000);
  }
}

}  // namespace tideline::storage
