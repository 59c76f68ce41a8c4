// Stream lifecycle: create, delete, list, describe, retention.
#include <rocksdb/iterator.h>

#include <algorithm>
#include <future>
#include <optional>

#include "common/regional_stream.h"
#include "keys.h"
#include "store_common.h"
#include "store_impl.h"

namespace tideline::storage {
namespace {

constexpr uint32_t kMaxShardsPerStream = 100'000;

}  // namespace

std::shared_ptr<StreamState> StoreImpl::FindStream(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(streams_mu_);
  auto it = streams_.find(name);
  if (it == streams_.end() || it->second->deleted.load()) return nullptr;
  return it->second;
}

Result<ShardState*> StoreImpl::FindShard(const StreamName& stream, const ShardId& shard,
                                         std::shared_ptr<StreamState>* holder) const {
  *holder = FindStream(stream.get());
  if (!*holder) return Status::NotFound("stream " + stream.get() + " not found");
  auto index = keys::ShardIndexFromId(shard.get());
  const ShardTable& table = (*holder)->table();
  if (!index || *index >= table.by_index.size() || table.by_index[*index] == nullptr) {
    return Status::NotFound("shard " + shard.get() + " not found in stream " + stream.get());
  }
  return table.by_index[*index];
}

void StoreImpl::ShardToProto(const ShardState& shard, uint64_t trim, proto::Shard* sp) {
  sp->set_shard_id(shard.id);
  sp->set_uid(shard.uid);
  sp->set_hash_key_start(HashKeyToBytes(shard.range.start));
  sp->set_hash_key_end(HashKeyToBytes(shard.range.end));
  sp->set_trim_offset(trim);
  sp->set_parent_shard_id(shard.parent_id);
  sp->set_adjacent_parent_shard_id(shard.adjacent_parent_id);
  sp->set_created_ms(shard.created_ms);
  if (shard.closed.load(std::memory_order_acquire)) {
    sp->set_closed(true);
    sp->set_ending_offset(shard.ending_offset);
    sp->set_closed_ms(shard.closed_ms);
  }
}

proto::Stream StoreImpl::ToProto(const StreamState& stream, const ShardTable& table,
                                 const std::vector<uint64_t>& trims, proto::Stream::Status status) {
  proto::Stream meta;
  meta.set_name(stream.name);
  meta.set_uid(stream.uid);
  meta.set_created_ms(stream.created_ms);
  meta.set_retention_hours(stream.retention_hours.load());
  meta.set_status(status);
  meta.set_next_shard_index(table.next_index);
  for (size_t i = 0; i < table.by_index.size(); ++i) {
    const ShardState* shard = table.by_index[i];
    if (shard == nullptr) continue;
    ShardToProto(*shard, i < trims.size() ? trims[i] : shard->trim_offset.load(),
                 meta.add_shards());
  }
  return meta;
}

Status StoreImpl::CreateStream(const StreamName& name, uint32_t shard_count,
                               const StreamAttributes& attributes) {
  TL_RETURN_IF_ERROR(ValidateStoredStreamName(name.get()));
  if (shard_count < 1 || shard_count > kMaxShardsPerStream) {
    return Status::InvalidArgument("shard count must be in 1..100000, got " +
                                   std::to_string(shard_count));
  }
  std::unique_lock<std::shared_mutex> lock(streams_mu_);
  const int64_t mono = MonotonicMs();
  deleting_.Purge(mono);
  if (auto it = streams_.find(name.get()); it != streams_.end()) {
    if (it->second->deleted.load()) {
      return Status::AlreadyExists("stream " + name.get() + " is being deleted");
    }
    return Status::AlreadyExists("stream " + name.get() + " already exists");
  }
  if (deleting_.Find(name.get(), mono) != nullptr) {
    return Status::AlreadyExists("stream " + name.get() + " is being deleted");
  }
  if (total_shards_ + shard_count > options_.shard_limit) {
    return Status::LimitExceeded(
        "creating " + std::to_string(shard_count) + " shards would exceed the shard limit of " +
        std::to_string(options_.shard_limit) + " (" + std::to_string(total_shards_) + " in use)");
  }
  auto stream = std::make_shared<StreamState>();
  stream->name = name.get();
  stream->uid = next_uid_;
  stream->created_ms = NowMs();
  stream->creating_until_ms = mono + options_.status_delay.count();
  stream->attributes = attributes;
  if (stream->attributes.stream_id.empty()) stream->attributes.stream_id = NewStreamId();
  const auto ranges = EvenHashKeyRanges(shard_count);
  auto table = std::make_unique<ShardTable>();
  for (uint32_t i = 0; i < shard_count; ++i) {
    auto shard = std::make_unique<ShardState>();
    shard->id = keys::ShardIdForIndex(i);
    shard->index = i;
    shard->uid = next_uid_ + 1 + i;
    shard->range = ranges[i];
    shard->created_ms = stream->created_ms;
    table->by_index.push_back(shard.get());
    table->open.push_back(shard.get());
    stream->owned.push_back(std::move(shard));
  }
  table->next_index = shard_count;
  stream->Publish(std::move(table));
  const uint64_t next_uid = next_uid_ + 1 + shard_count;
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, keys::StreamKey(name.get()),
            ToProto(*stream, {}, proto::Stream::ACTIVE).SerializeAsString());
  batch.Put(meta_cf_, keys::AttributesKey(name.get()),
            AttributesToProto(stream->attributes).SerializeAsString());
  batch.Put(meta_cf_, keys::kNextUidKey, keys::EncodeU64(next_uid));
  TL_RETURN_IF_ERROR(FromRocks(db_->Write(SyncWrite(), &batch), "creating stream"));
  next_uid_ = next_uid;
  total_shards_ += shard_count;
  streams_.emplace(name.get(), std::move(stream));
  log_->info("created stream {} with {} shards", name.get(), shard_count);
  return Status::Ok();
}

Status StoreImpl::DeleteStream(const StreamName& name) {
  std::shared_ptr<StreamState> stream;
  {
    std::unique_lock<std::shared_mutex> lock(streams_mu_);
    auto it = streams_.find(name.get());
    if (it == streams_.end() || it->second->deleted.load()) {
      return Status::NotFound("stream " + name.get() + " not found");
    }
    stream = it->second;
    stream->deleted = true;
  }
  WakeWaiters();  // readers tailing the stream see it is gone
  std::lock_guard<std::mutex> meta_lock(stream->meta_mu);
  const proto::Stream meta = ToProto(*stream, {}, proto::Stream::DELETING);
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, keys::StreamKey(name.get()), meta.SerializeAsString());
  Status st = FromRocks(db_->Write(SyncWrite(), &batch), "marking stream deleting");
  // Appends routed before `deleted` was set may still be queued; after this no record of the
  // stream can be written.
  WaitForWriter();
  if (st.ok()) st = DeleteStreamData(meta);
  std::unique_lock<std::shared_mutex> lock(streams_mu_);
  if (!st.ok()) {
    // Leave the stream readable as before; the caller may retry.
    stream->deleted = false;
    return st;
  }
  streams_.erase(name.get());
  total_shards_ -= stream->table().open.size();
  const int64_t mono = MonotonicMs();
  deleting_.Add(name.get(),
                {stream->uid, stream->created_ms, stream->retention_hours.load(),
                 mono + options_.status_delay.count()},
                mono);
  log_->info("deleted stream {}", name.get());
  return Status::Ok();
}

Status StoreImpl::FinishDeletion(const proto::Stream& stream) {
  return DeleteStreamData(stream);
}

// Removes records, checkpoints and finally the meta record of a stream marked DELETING.
Status StoreImpl::DeleteStreamData(const proto::Stream& stream) {
  rocksdb::WriteBatch batch;
  for (const auto& shard : stream.shards()) {
    const uint64_t uid = shard.uid();
    const std::string end =
        uid == UINT64_MAX ? keys::RecordKey(uid, UINT64_MAX) : keys::RecordKey(uid + 1, 0);
    batch.DeleteRange(records_cf_, keys::RecordKey(uid, 0), end);
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, checkpoints_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto parts = keys::DecodeCheckpointKey(it->key().ToStringView());
    if (parts && parts->stream == stream.name()) batch.Delete(checkpoints_cf_, it->key());
  }
  TL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning checkpoints"));
  batch.Delete(meta_cf_, keys::AttributesKey(stream.name()));
  batch.Delete(meta_cf_, keys::StreamKey(stream.name()));
  return FromRocks(db_->Write(SyncWrite(), &batch), "deleting stream data");
}

std::vector<StreamName> StoreImpl::ListStreams(std::string_view exclusive_start,
                                               size_t limit) const {
  std::vector<std::string> live;
  std::vector<std::string> deleting;
  std::shared_lock<std::shared_mutex> lock(streams_mu_);
  auto it = exclusive_start.empty() ? streams_.begin()
                                    : streams_.upper_bound(std::string(exclusive_start));
  // Streams whose deletion is under way are DELETING too.
  for (; it != streams_.end() && live.size() < limit; ++it)
    live.push_back(it->first);
  deleting_.AppendNames(exclusive_start, limit, MonotonicMs(), deleting);
  return DeletingStreams::Merge(std::move(live), deleting, limit);
}

std::optional<StreamInfo> StoreImpl::DescribeDeleting(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(streams_mu_);
  if (auto it = streams_.find(name); it != streams_.end()) {
    const StreamState& s = *it->second;
    if (!s.deleted.load()) return std::nullopt;  // deletion failed and was undone meanwhile
    return DeletingStreams::Describe(name, s.uid, s.created_ms, s.retention_hours.load());
  }
  if (const DeletingStreams::Entry* e = deleting_.Find(name, MonotonicMs())) {
    return DeletingStreams::Describe(name, e->uid, e->created_ms, e->retention_hours);
  }
  return std::nullopt;
}

StreamStatus StoreImpl::StatusOf(const StreamState& stream) const {
  const int64_t mono = MonotonicMs();
  if (mono < stream.creating_until_ms) return StreamStatus::kCreating;
  if (mono < stream.updating_until_ms.load() || stream.resharding.load()) {
    return StreamStatus::kUpdating;
  }
  return StreamStatus::kActive;
}

Result<StreamStatus> StoreImpl::GetStreamStatus(const StreamName& name) const {
  if (auto stream = FindStream(name.get())) return StatusOf(*stream);
  if (DescribeDeleting(name.get())) return StreamStatus::kDeleting;
  return Status::NotFound("stream " + name.get() + " not found");
}

Result<StreamInfo> StoreImpl::DescribeStream(const StreamName& name) const {
  auto stream = FindStream(name.get());
  if (!stream) {
    if (auto deleting = DescribeDeleting(name.get())) return *std::move(deleting);
    return Status::NotFound("stream " + name.get() + " not found");
  }
  StreamInfo info;
  info.name = name;
  info.uid = stream->uid;
  info.created_ms = stream->created_ms;
  info.retention_hours = stream->retention_hours.load();
  info.status = StatusOf(*stream);
  const ShardTable& table = stream->table();
  info.shards.reserve(table.by_index.size());
  for (const ShardState* shard : table.by_index) {
    if (shard == nullptr) continue;
    ShardInfo si;
    si.id = ShardId(shard->id);
    si.uid = ShardUid(shard->uid);
    si.hash_range = shard->range;
    si.starting_sequence_number = EncodeSequenceNumber({shard->uid, 1});
    // Load last before trim: a concurrent trim only raises trim, never past last + 1.
    const uint64_t last = shard->last_offset.load(std::memory_order_acquire);
    si.trim_offset = Offset(std::min(shard->trim_offset.load(), last + 1));
    si.last_offset = Offset(last);
    si.parent_shard_id = shard->parent_id;
    si.adjacent_parent_shard_id = shard->adjacent_parent_id;
    si.created_ms = shard->created_ms;
    if (shard->closed.load(std::memory_order_acquire)) {
      si.closed = true;
      si.ending_offset = Offset(shard->ending_offset);
      si.ending_sequence_number = EncodeSequenceNumber({shard->uid, shard->ending_offset});
      si.closed_ms = shard->closed_ms;
    }
    info.shards.push_back(std::move(si));
  }
  return info;
}

Status StoreImpl::SetRetentionHours(const StreamName& name, int hours) {
  if (hours < kMinRetentionHours || hours > kMaxRetentionHours) {
    return Status::InvalidArgument("retention must be 24..8760 hours, got " +
                                   std::to_string(hours));
  }
  auto stream = FindStream(name.get());
  if (!stream) return Status::NotFound("stream " + name.get() + " not found");
  std::lock_guard<std::mutex> meta_lock(stream->meta_mu);
  if (stream->deleted.load()) return Status::NotFound("stream " + name.get() + " not found");
  const int old = stream->retention_hours.exchange(hours);
  auto s = db_->Put(SyncWrite(), meta_cf_, keys::StreamKey(name.get()),
                    ToProto(*stream, {}, proto::Stream::ACTIVE).SerializeAsString());
  if (!s.ok()) {
    stream->retention_hours = old;
    return FromRocks(s, "setting retention");
  }
  return Status::Ok();
}

}  // namespace tideline::storage
