// The read path: positions, point lookups of arrival times, and zero-copy range reads.
#include <rocksdb/iterator.h>

#include <algorithm>

#include "keys.h"
#include "record_codec.h"
#include "store_common.h"
#include "store_impl.h"

namespace tideline::storage {

Result<int64_t> StoreImpl::ArrivalAt(const ShardState& shard, uint64_t offset) const {
  char key[keys::kRecordKeySize];
  keys::EncodeRecordKey(shard.uid, offset, key);
  rocksdb::PinnableSlice value;
  auto s = db_->Get({}, records_cf_, rocksdb::Slice(key, sizeof(key)), &value);
  if (s.IsNotFound()) return Status::NotFound("record not stored");
  TL_RETURN_IF_ERROR(FromRocks(s, "reading " + shard.id));
  RecordFields fields;
  if (!DecodeRecordValue(value.ToStringView(), &fields)) {
    return Status::Corruption("record " + std::to_string(offset) + " of " + shard.id +
                              " does not decode");
  }
  return fields.arrival_ms;
}

Result<uint64_t> StoreImpl::FirstOffsetAtOrAfter(const ShardState& shard, int64_t ts) const {
  const uint64_t last = shard.last_offset.load(std::memory_order_acquire);
  uint64_t lo = std::min(shard.trim_offset.load(), last + 1);
  uint64_t hi = last + 1;
  // Arrival times are non-decreasing in offset order, so binary search works. A record trimmed
  // while we search was older than anything kept, so it counts as "before ts".
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto arrival = ArrivalAt(shard, mid);
    if (!arrival.ok() && arrival.status().code() != StatusCode::kNotFound) {
      return arrival.status();
    }
    if (!arrival.ok() || *arrival < ts) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::string_view StartingPositionName(StartingPosition position) {
  switch (position) {
    case StartingPosition::kTrimHorizon:
      return "TRIM_HORIZON";
    case StartingPosition::kLatest:
      return "LATEST";
    case StartingPosition::kAtSequenceNumber:
      return "AT_SEQUENCE_NUMBER";
    case StartingPosition::kAfterSequenceNumber:
      return "AFTER_SEQUENCE_NUMBER";
    case StartingPosition::kAtTimestamp:
      return "AT_TIMESTAMP";
  }
  return "TRIM_HORIZON";
}

std::optional<StartingPosition> ParseStartingPosition(std::string_view name) {
  for (const StartingPosition p :
       {StartingPosition::kTrimHorizon, StartingPosition::kLatest,
        StartingPosition::kAtSequenceNumber, StartingPosition::kAfterSequenceNumber,
        StartingPosition::kAtTimestamp}) {
    if (StartingPositionName(p) == name) return p;
  }
  return std::nullopt;
}

Result<Offset> StoreImpl::ResolvePosition(const StreamName& stream, const ShardId& shard_id,
                                          const StreamPosition& where) const {
  const StartingPosition position = where.type;
  const std::string_view sequence_number = where.sequence_number;
  const int64_t timestamp_ms = where.timestamp_ms;
  std::shared_ptr<StreamState> holder;
  auto found = FindShard(stream, shard_id, &holder);
  if (!found.ok()) return found.status();
  const ShardState& shard = **found;
  const uint64_t last = shard.last_offset.load(std::memory_order_acquire);
  const uint64_t trim = std::min(shard.trim_offset.load(), last + 1);
  switch (position) {
    case StartingPosition::kTrimHorizon:
      return Offset(trim);
    case StartingPosition::kLatest:
      return Offset(last + 1);
    case StartingPosition::kAtTimestamp: {
      auto first = FirstOffsetAtOrAfter(shard, timestamp_ms);
      if (!first.ok()) return first.status();
      return Offset(*first);
    }
    case StartingPosition::kAtSequenceNumber:
    case StartingPosition::kAfterSequenceNumber:
      break;
  }
  return ResolveSequenceNumber(position, sequence_number, shard.uid, shard.id, stream, last, trim);
}

Result<ReadSummary> StoreImpl::Read(const StreamName& stream, const ShardId& shard_id, Offset from,
                                    const ReadLimits& limits,
                                    const std::function<void(const RecordView&)>& visit) const {
  std::shared_ptr<StreamState> holder;
  auto found = FindShard(stream, shard_id, &holder);
  if (!found.ok()) return found.status();
  const ShardState& shard = **found;
  ReadSummary summary;
  const uint64_t last = shard.last_offset.load(std::memory_order_acquire);
  summary.last_offset = Offset(last);
  summary.last_arrival_ms = last == 0 ? 0 : shard.last_arrival_ms.load();
  // Loaded before `last` is used: a closed shard's last offset is its ending offset.
  const bool closed = shard.closed.load(std::memory_order_acquire);
  const uint64_t start = std::max(from.get(), shard.trim_offset.load());
  summary.next = Offset(start);
  if (start > last) {
    if (closed) MarkShardEnd(*holder, shard, &summary);
    return summary;
  }

  char lower[keys::kRecordKeySize];
  char upper[keys::kRecordKeySize];
  keys::EncodeRecordKey(shard.uid, start, lower);
  keys::EncodeRecordKey(shard.uid, last + 1, upper);
  rocksdb::Slice upper_bound(upper, sizeof(upper));
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_bound;
  ro.adaptive_readahead = true;
  // A range read passes over its blocks once; caching them only grows the process by the size
  // of the block cache during a replay and evicts the index blocks every reader needs. A key
  // block holds ~800 records, so reading it from the page cache again costs one pread.
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, records_cf_));
  RecordFields fields;
  for (it->Seek(rocksdb::Slice(lower, sizeof(lower))); it->Valid(); it->Next()) {
    auto parts = keys::DecodeRecordKey(it->key().ToStringView());
    if (!parts || !DecodeRecordValue(it->value().ToStringView(), &fields)) {
      return Status::Corruption("record in " + shard.id + " does not decode");
    }
    const size_t size = fields.data.size() + fields.partition_key.size();
    if (summary.records > 0 &&
        (summary.records >= limits.max_records || summary.bytes + size > limits.max_bytes)) {
      break;
    }
    visit(RecordView{Offset(parts->offset), fields.partition_key, fields.explicit_hash_key,
                     fields.data, fields.arrival_ms});
    ++summary.records;
    summary.bytes += size;
    summary.next = Offset(parts->offset + 1);
  }
  TL_RETURN_IF_ERROR(FromRocks(it->status(), "reading " + shard.id));
  if (closed) MarkShardEnd(*holder, shard, &summary);
  return summary;
}

void StoreImpl::MarkShardEnd(const StreamState& stream, const ShardState& shard,
                             ReadSummary* summary) {
  if (summary->next.get() <= shard.ending_offset) return;
  summary->shard_end = true;
  const ShardTable& table = stream.table();
  for (uint32_t index : shard.children) {
    const ShardState* child = index < table.by_index.size() ? table.by_index[index] : nullptr;
    if (child == nullptr) continue;
    ChildShard c;
    c.id = ShardId(child->id);
    c.parents.emplace_back(child->parent_id);
    if (!child->adjacent_parent_id.empty()) c.parents.emplace_back(child->adjacent_parent_id);
    c.hash_range = child->range;
    summary->children.push_back(std::move(c));
  }
}

}  // namespace tideline::storage

namespace tideline::storage {

Result<Offset> StoreImpl::WaitForRecords(const StreamName& stream, const ShardId& shard_id,
                                         Offset after, std::chrono::milliseconds timeout) const {
  std::shared_ptr<StreamState> holder;
  auto found = FindShard(stream, shard_id, &holder);
  if (!found.ok()) return found.status();
  const ShardState& shard = **found;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(commit_mu_);
  const uint64_t wake_epoch = wake_epoch_;
  // The writer publishes last_offset (and a reshard `closed`) before it takes commit_mu_ to
  // notify, so checking them under the mutex cannot miss a commit.
  while (shard.last_offset.load(std::memory_order_acquire) <= after.get() &&
         wake_epoch_ == wake_epoch && !holder->deleted.load() &&
         !shard.closed.load(std::memory_order_acquire)) {
    if (commit_cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  if (holder->deleted.load()) return Status::NotFound("stream " + stream.get() + " not found");
  return Offset(shard.last_offset.load(std::memory_order_acquire));
}

void StoreImpl::WakeWaiters() const {
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    ++wake_epoch_;
  }
  commit_cv_.notify_all();
  observers_.Notify({});
}

void StoreImpl::NotifyCommitted(std::span<const ShardUid> shards) const {
  // Taking the mutex orders this notify after any waiter's check of last_offset.
  { std::lock_guard<std::mutex> lock(commit_mu_); }
  commit_cv_.notify_all();
  observers_.Notify(shards);
}

}  // namespace tideline::storage
