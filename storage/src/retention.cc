// Retention: the background trimmer and TrimExpired (the clock they trust: retention_clock.h).
#include <rocksdb/iterator.h>

#include <algorithm>

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
// durably (one sync WriteBatch holding the DeleteRanges and the new meta record). A closed shard
// whose records are all gone and which closed before cutoff_ms leaves the meta record in the
// same batch, with its checkpoints.
Result<uint64_t> StoreImpl::TrimStream(StreamState& stream, int64_t cutoff_ms) {
  std::lock_guard<std::mutex> meta_lock(stream.meta_mu);
  if (stream.deleted.load()) return uint64_t{0};
  const ShardTable& table = stream.table();
  std::vector<uint64_t> trims(table.by_index.size(), 0);
  rocksdb::WriteBatch batch;
  uint64_t removed = 0;
  for (const ShardState* shard : table.by_index) {
    if (shard == nullptr) continue;
    const uint64_t trim = shard->trim_offset.load();
    auto keep = FirstOffsetAtOrAfter(*shard, cutoff_ms);
    if (!keep.ok()) return keep.status();
    trims[shard->index] = std::max(*keep, trim);
    if (*keep > trim) {
      auto s = batch.DeleteRange(records_cf_, keys::RecordKey(shard->uid, trim),
                                 keys::RecordKey(shard->uid, *keep));
      TL_RETURN_IF_ERROR(FromRocks(s, "building trim batch"));
      removed += *keep - trim;
    }
  }
  const std::vector<uint32_t> expired = ExpiredClosedShards(stream, table, trims, cutoff_ms);
  if (removed == 0 && expired.empty()) return uint64_t{0};
  std::unique_ptr<ShardTable> next;
  if (!expired.empty()) {
    next = std::make_unique<ShardTable>(table);
    for (uint32_t index : expired)
      next->by_index[index] = nullptr;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, checkpoints_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto parts = keys::DecodeCheckpointKey(it->key().ToStringView());
      if (!parts || parts->stream != stream.name) continue;
      auto index = keys::ShardIndexFromId(parts->shard_id);
      if (index && std::find(expired.begin(), expired.end(), *index) != expired.end()) {
        batch.Delete(checkpoints_cf_, it->key());
      }
    }
    TL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning checkpoints"));
  }
  batch.Put(
      meta_cf_, keys::StreamKey(stream.name),
      ToProto(stream, next ? *next : table, trims, proto::Stream::ACTIVE).SerializeAsString());
  TL_RETURN_IF_ERROR(FromRocks(db_->Write(SyncWrite(), &batch), "trimming " + stream.name));
  for (ShardState* shard : table.by_index) {
    if (shard != nullptr) shard->trim_offset = trims[shard->index];
  }
  if (next) {
    // The ShardStates stay owned by the stream: a reader may still hold one.
    stream.Publish(std::move(next));
    log_->info("stream {}: removed {} closed shards past retention", stream.name, expired.size());
  }
  log_->debug("trimmed {} records of stream {}", removed, stream.name);
  return removed;
}

std::vector<uint32_t> StoreImpl::ExpiredClosedShards(const StreamState&, const ShardTable& table,
                                                     const std::vector<uint64_t>& trims,
                                                     int64_t cutoff_ms) const {
  std::vector<uint32_t> out;
  for (const ShardState* shard : table.by_index) {
    if (shard == nullptr || !shard->closed.load(std::memory_order_acquire)) continue;
    if (trims[shard->index] > shard->ending_offset && shard->closed_ms < cutoff_ms) {
      out.push_back(shard->index);
    }
  }
  return out;
}

void StoreImpl::CheckClockAtOpen() {
  int64_t newest = 0;
  for (const auto& [name, stream] : streams_) {
    for (const ShardState* shard : stream->table().by_index)
      if (shard != nullptr) newest = std::max(newest, shard->last_arrival_ms.load());
  }
  if (newest - retention_clock_->wall_at_open_ms() > RetentionClock::kStepToleranceMs) {
    log_->warn(
        "the wall clock is {} s behind the newest stored arrival time; new records get that "
        "arrival time (arrival times never decrease within a shard) until the clock catches up",
        (newest - retention_clock_->wall_at_open_ms()) / 1000);
  }
}

}  // namespace tideline::storage
