// The write path: routing on the caller's thread, one writer thread doing group commit.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>

#include "keys.h"
#include "record_codec.h"
#include "store_common.h"
#include "store_impl.h"

namespace tideline::storage {
namespace {

// The open shard whose range holds `key`; open ranges are contiguous and sorted by start.
ShardState* ShardForKey(const ShardTable& table, HashKey key) {
  auto it = std::upper_bound(table.open.begin(), table.open.end(), key,
                             [](HashKey k, const ShardState* s) { return k < s->range.start; });
  return *(it - 1);
}

}  // namespace

void StoreImpl::AppendAsync(const StreamName& stream_name, std::span<const AppendRecord> records,
                            AppendCallback done) {
  auto stream = FindStream(stream_name.get());
  if (!stream) {
    done(Status::NotFound("stream " + stream_name.get() + " not found"));
    return;
  }
  PendingAppend pending;
  pending.shard_of.reserve(records.size());
  const ShardTable& table = stream->table();  // one version for the whole append
  for (size_t i = 0; i < records.size(); ++i) {
    const AppendRecord& r = records[i];
    const Result<HashKey> key = RecordHashKey(r, i);
    if (!key.ok()) {
      done(key.status());
      return;
    }
    pending.shard_of.push_back(ShardForKey(table, *key));
    pending.bytes += r.data.size() + r.partition_key.size();
  }
  if (records.empty()) {
    done(std::vector<AppendedRecord>{});
    return;
  }
  // Cached: a statvfs at most every DiskSpaceGuard::kRefreshMs across all callers.
  if (Status space = disk_->Check(); !space.ok()) {
    low_disk_refusals_.fetch_add(1, std::memory_order_relaxed);
    done(std::move(space));
    return;
  }
  pending.stream = std::move(stream);
  pending.records = records;
  pending.done = std::move(done);
  Enqueue(std::move(pending));
}

void StoreImpl::Enqueue(PendingAppend pending) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  Status refuse;
  if (!sticky_error_.ok()) {
    refuse = sticky_error_;
  } else if (stopping_) {
    refuse = Status::Unavailable("store is shutting down");
  } else if (pending.stream && !queue_.empty() &&
             queued_bytes_ + pending.bytes > options_.max_queued_append_bytes) {
    // Backpressure: the producer retries (SDKs back off on this error) instead of the queue
    // growing without bound. An append into an empty queue always passes, whatever its size.
    throttled_appends_.fetch_add(1, std::memory_order_relaxed);
    refuse = Status::Throttled(
        "Rate exceeded: " + std::to_string(queued_bytes_ >> 20) +
        " MiB of records are waiting to be written (storage.max_queued_append_mib = " +
        std::to_string(options_.max_queued_append_bytes >> 20) + "); retry with backoff");
  }
  if (!refuse.ok()) {
    lock.unlock();
    pending.done(std::move(refuse));
    return;
  }
  const bool was_empty = queue_.empty();
  queued_bytes_ += pending.bytes;
  queue_.push_back(std::move(pending));
  lock.unlock();
  if (was_empty) queue_cv_.notify_one();
}

Status StoreImpl::RunOnWriter(std::function<Status()> task) {
  std::promise<Status> ran;
  PendingAppend item;
  item.task = std::move(task);
  item.done = [&ran](Result<std::vector<AppendedRecord>> r) { ran.set_value(r.status()); };
  Enqueue(std::move(item));
  return ran.get_future().get();
}

void StoreImpl::WaitForWriter() {
  std::promise<void> passed;
  PendingAppend barrier;
  barrier.done = [&passed](Result<std::vector<AppendedRecord>>) { passed.set_value(); };
  Enqueue(std::move(barrier));
  passed.get_future().wait();
}

Status StoreImpl::Health() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return sticky_error_;
}

StoreStats StoreImpl::Stats() const {
  StoreStats s;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    s.queued_append_bytes = queued_bytes_;
  }
  s.throttled_appends = throttled_appends_.load(std::memory_order_relaxed);
  s.low_disk_refusals = low_disk_refusals_.load(std::memory_order_relaxed);
  s.disk_free_bytes = disk_->free_bytes();
  s.low_disk = disk_->low();
  s.group_commits = group_commits_.load(std::memory_order_relaxed);
  s.committed_records = committed_records_.load(std::memory_order_relaxed);
  s.commit_seconds = static_cast<double>(commit_nanos_.load(std::memory_order_relaxed)) / 1e9;
  for (size_t i = 0; i < commit_buckets_.size(); ++i) {
    s.commit_buckets[i] = commit_buckets_[i].load(std::memory_order_relaxed);
  }
  uint64_t value = 0;
  std::string text;
  if (db_->GetProperty(records_cf_, rocksdb::DB::Properties::kNumFilesAtLevelPrefix + "0", &text)) {
    std::from_chars(text.data(), text.data() + text.size(), s.l0_files);
  }
  if (db_->GetIntProperty(records_cf_, rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                          &value)) {
    s.pending_compaction_bytes = value;
  }
  if (db_->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &value)) {
    s.delayed_write_rate = value;
  }
  if (db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &value)) {
    s.write_stopped = value != 0;
  }
  return s;
}

void StoreImpl::WriterLoop() {
  std::vector<PendingAppend> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything accepted was committed
      size_t bytes = 0;
      // A task runs alone: it ends the group before it, or is the whole group.
      while (!queue_.empty() && !(!group.empty() && (queue_.front().task || group[0].task)) &&
             (group.empty() || bytes + queue_.front().bytes <= options_.max_group_commit_bytes)) {
        bytes += queue_.front().bytes;
        queued_bytes_ -= queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
    group.clear();
  }
}

void StoreImpl::Refuse(std::vector<PendingAppend>& group, const Status& status) {
  for (PendingAppend& p : group)
    p.done(status);
}

void StoreImpl::CommitGroup(std::vector<PendingAppend>& group) {
  std::vector<ShardState*> touched;
  Status st;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    st = sticky_error_;
  }
  if (group.size() == 1 && group[0].task) {
    // After a failed write the published offsets are all that is known to be durable: a reshard
    // would close parents at offsets it cannot vouch for.
    if (st.ok()) st = group[0].task();
    if (st.ok()) {
      group[0].done(std::vector<AppendedRecord>{});
    } else {
      group[0].done(st);
    }
    return;
  }
  if (st.ok()) {
    // Appends queued before the disk filled up must not reach RocksDB either. Not sticky:
    // nothing was written, and the next group is accepted once space returns.
    if (Status space = disk_->Check(); !space.ok()) {
      for (const PendingAppend& p : group) {
        if (p.stream) low_disk_refusals_.fetch_add(1, std::memory_order_relaxed);
      }
      Refuse(group, space);
      return;
    }
    st = WriteGroup(group, touched);
  }
  if (st.ok()) {
    // Publish only now: the batch is durable, so readers see acknowledged records only.
    touched_uids_.clear();
    for (ShardState* shard : touched) {
      shard->last_arrival_ms.store(shard->writer_arrival_ms, std::memory_order_relaxed);
      shard->last_offset.store(shard->writer_offset, std::memory_order_release);
      touched_uids_.emplace_back(shard->uid);
    }
    if (!touched.empty()) NotifyCommitted(touched_uids_);
  } else {
    for (ShardState* shard : touched) {
      shard->writer_offset = shard->last_offset.load();
      shard->writer_arrival_ms = shard->last_arrival_ms.load();
    }
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (sticky_error_.ok()) {
      sticky_error_ = st.code() == StatusCode::kIOError ? st : Status::IOError(st.ToString());
      log_->error("append write failed; refusing all further appends until reopened: {}",
                  st.ToString());
    }
  }
  const Status sticky_error_copy = st.ok() ? Status() : Health();
  for (PendingAppend& p : group) {
    if (!st.ok()) {
      p.done(sticky_error_copy);
    } else if (!p.status.ok()) {
      p.done(std::move(p.status));
    } else {
      p.done(std::move(p.out));
    }
  }
}

// Builds one WriteBatch from the whole group and writes it with the store's durability.
Status StoreImpl::WriteGroup(std::vector<PendingAppend>& group, std::vector<ShardState*>& touched) {
  batch_.Clear();
  const int64_t now = NowMs();
  char key[keys::kRecordKeySize];
  size_t total = 0;
  for (PendingAppend& p : group) {
    if (!p.stream) continue;  // barrier
    if (p.stream->deleted.load()) {
      p.status = Status::NotFound("stream " + p.stream->name + " not found");
      continue;
    }
    p.out.reserve(p.records.size());
    for (size_t i = 0; i < p.records.size(); ++i) {
      const AppendRecord& r = p.records[i];
      ShardState* routed = p.shard_of[i];
      if (routed->writer_closed) {
        // Routed before a reshard that committed since: the record belongs to the child that
        // now owns its hash key (RecordHashKey succeeded when it was routed).
        routed = ShardForKey(p.stream->table(), *RecordHashKey(r, i));
      }
      ShardState& shard = *routed;
      if (shard.writer_offset == shard.last_offset.load(std::memory_order_relaxed)) {
        touched.push_back(&shard);  // first record of this shard in the group
      }
      const uint64_t offset = ++shard.writer_offset;
      shard.writer_arrival_ms = std::max(now, shard.writer_arrival_ms);
      // The producer's bytes go into the batch once, between the encoded prefix and suffix.
      EncodeRecordValue({r.data, r.partition_key, r.explicit_hash_key, shard.writer_arrival_ms},
                        &value_prefix_, &value_suffix_);
      keys::EncodeRecordKey(shard.uid, offset, key);
      const rocksdb::Slice key_slice(key, sizeof(key));
      const rocksdb::Slice value_slices[3] = {
          value_prefix_, rocksdb::Slice(r.data.data(), r.data.size()), value_suffix_};
      auto s = batch_.Put(records_cf_, rocksdb::SliceParts(&key_slice, 1),
                          rocksdb::SliceParts(value_slices, 3));
      if (!s.ok()) return FromRocks(s, "building write batch");
      p.out.push_back({ShardId(shard.id), EncodeSequenceNumber({shard.uid, offset})});
      ++total;
    }
  }
  if (total == 0) return Status::Ok();
  if (hooks_.write_fault) TL_RETURN_IF_ERROR(hooks_.write_fault());
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kFsync;
  const auto started = std::chrono::steady_clock::now();
  if (auto s = db_->Write(wo, &batch_); !s.ok()) {
    // A flush that ran out of space surfaces here as RocksDB's background error, which does
    // not always carry the NoSpace subcode.
    if (s.IsNoSpace() || s.ToString().find("No space left on device") != std::string::npos) {
      // Despite min_free_bytes (another process filled the disk, or the check is off). RocksDB
      // now refuses writes itself; the store makes it sticky like any failed write.
      return Status::IOError("disk full: no space left in " + options_.data_dir.string() + " (" +
                             s.ToString() +
                             "); appends are refused until tideline is restarted with free space");
    }
    return FromRocks(s, "group commit write");
  }
  if (hooks_.committed) hooks_.committed(total, wo.sync);
  disk_->Committed(batch_.GetDataSize());
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  const auto& bounds = StoreStats::kCommitBuckets;
  const size_t bucket =
      std::lower_bound(bounds.begin(), bounds.end(), took.count()) - bounds.begin();
  commit_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  commit_nanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(),
                          std::memory_order_relaxed);
  committed_records_.fetch_add(total, std::memory_order_relaxed);
  group_commits_.fetch_add(1, std::memory_order_relaxed);
  log_->debug("group commit: {} appends, {} records, {} bytes", group.size(), total,
              batch_.GetDataSize());
  return Status::Ok();
}

}  // namespace tideline::storage
