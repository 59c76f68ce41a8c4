// Retention: the background trimmer and TrimExpired (the clock they trust: retention_clock.h).
#include "keys.h"
#include "store_impl.h"

namespace tideline::storage {

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
  const int64_t now = retention_clock_->NowMs();
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

void StoreImpl::CheckClockAtOpen() {
  int64_t newest = 0;
  for (const auto& [name, stream] : streams_) {
    for (const auto& shard : stream->shards)
      newest = std::max(newest, shard->last_arrival_ms.load());
  }
  if (newest - retention_clock_->wall_at_open_ms() > RetentionClock::kStepToleranceMs) {
    log_->warn(
        "the wall clock is {} s behind the newest stored arrival time; new records get that "
        "arrival time (arrival times never decrease within a shard) until the clock catches up",
        (newest - retention_clock_->wall_at_open_ms()) / 1000);
  }
}

}  // namespace tideline::storage
