// Checkpoints: (application, stream, shard) -> last handled offset, written with sync.
#include <rocksdb/iterator.h>

#include "keys.h"
#include "store_impl.h"

namespace tideline::storage {
namespace {}  // namespace

Status StoreImpl::WriteCheckpoint(std::string_view application, StreamState& stream,
                                  const ShardState& shard, uint64_t offset) {
  proto::Checkpoint cp;
  cp.set_sequence_number(EncodeSequenceNumber({shard.uid, offset}).get());
  cp.set_offset(offset);
  cp.set_updated_ms(NowMs());
  std::lock_guard<std::mutex> meta_lock(stream.meta_mu);
  if (stream.deleted.load()) return Status::NotFound("stream " + stream.name + " not found");
  auto s =
      db_->Put(SyncWrite(), checkpoints_cf_,
               keys::CheckpointKey(application, stream.name, shard.id), cp.SerializeAsString());
  return FromRocks(s, "writing checkpoint");
}

Result<uint64_t> StoreImpl::CheckpointOffset(const ShardState& shard,
                                             const SequenceNumber& sequence_number) const {
  auto pos = DecodeSequenceNumber(sequence_number.get());
  if (!pos) {
    std::string msg = "'";
    msg.append(sequence_number.get().substr(0, 64)).append("' is not a valid sequence number");
    return Status::InvalidArgument(std::move(msg));
  }
  if (pos->shard_uid != shard.uid) {
    return Status::InvalidArgument("sequence number " + sequence_number.get() +
                                   " does not belong to " + shard.id);
  }
  if (pos->offset > shard.last_offset.load(std::memory_order_acquire)) {
    return Status::InvalidArgument("sequence number " + sequence_number.get() +
                                   " was never issued in " + shard.id);
  }
  return pos->offset;
}

Status StoreImpl::SetCheckpoint(const CheckpointOwner& owner, const StreamName& stream,
                                const ShardId& shard_id, const SequenceNumber& sequence_number) {
  const ShardCheckpoint one{shard_id, sequence_number};
  return SetCheckpoints(owner, stream, std::span(&one, 1));
}

Status StoreImpl::SetCheckpoints(const CheckpointOwner& owner, const StreamName& stream,
                                 std::span<const ShardCheckpoint> checkpoints) {
  const std::string_view application = owner.get();
  TL_RETURN_IF_ERROR(owner.Validate());
  std::shared_ptr<StreamState> holder;
  rocksdb::WriteBatch batch;
  const int64_t now = NowMs();
  for (const ShardCheckpoint& c : checkpoints) {
    auto found = FindShard(stream, c.shard, &holder);
    if (!found.ok()) return found.status();
    auto offset = CheckpointOffset(**found, c.sequence_number);
    if (!offset.ok()) return offset.status();
    proto::Checkpoint cp;
    cp.set_sequence_number(c.sequence_number.get());
    cp.set_offset(*offset);
    cp.set_updated_ms(now);
    auto s =
        batch.Put(checkpoints_cf_, keys::CheckpointKey(application, stream.get(), c.shard.get()),
                  cp.SerializeAsString());
    TL_RETURN_IF_ERROR(FromRocks(s, "building checkpoint batch"));
  }
  if (checkpoints.empty()) return Status::Ok();
  std::lock_guard<std::mutex> meta_lock(holder->meta_mu);
  if (holder->deleted.load()) return Status::NotFound("stream " + stream.get() + " not found");
  return FromRocks(db_->Write(SyncWrite(), &batch), "writing checkpoints");
}

Status StoreImpl::SetCheckpointAtTimestamp(const CheckpointOwner& owner, const StreamName& stream,
                                           const ShardId& shard_id, int64_t timestamp_ms) {
  const std::string_view application = owner.get();
  TL_RETURN_IF_ERROR(owner.Validate());
  std::shared_ptr<StreamState> holder;
  auto found = FindShard(stream, shard_id, &holder);
  if (!found.ok()) return found.status();
  auto first = FirstOffsetAtOrAfter(**found, timestamp_ms);
  if (!first.ok()) return first.status();
  return WriteCheckpoint(application, *holder, **found, *first - 1);
}

namespace {

Result<Checkpoint> ToCheckpoint(std::string_view key, std::string_view value) {
  auto parts = keys::DecodeCheckpointKey(key);
  proto::Checkpoint cp;
  if (!parts || !cp.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return Status::Corruption("checkpoint does not decode");
  }
  Checkpoint out;
  out.application = CheckpointOwner(parts->application);
  out.stream = StreamName(std::string(parts->stream));
  out.shard = ShardId(std::string(parts->shard_id));
  out.sequence_number = SequenceNumber(cp.sequence_number());
  out.offset = Offset(cp.offset());
  out.updated_ms = cp.updated_ms();
  return out;
}

}  // namespace

Result<Checkpoint> StoreImpl::GetCheckpoint(const CheckpointOwner& owner, const StreamName& stream,
                                            const ShardId& shard) const {
  const std::string_view application = owner.get();
  const std::string key = keys::CheckpointKey(application, stream.get(), shard.get());
  rocksdb::PinnableSlice value;
  auto s = db_->Get({}, checkpoints_cf_, key, &value);
  if (s.IsNotFound()) {
    return Status::NotFound("no checkpoint for application " + std::string(application) + " on " +
                            stream.get() + "/" + shard.get());
  }
  TL_RETURN_IF_ERROR(FromRocks(s, "reading checkpoint"));
  return ToCheckpoint(key, value.ToStringView());
}

std::vector<Checkpoint> StoreImpl::ListCheckpoints(const CheckpointOwner& owner) const {
  const std::string_view application = owner.get();
  std::vector<Checkpoint> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, checkpoints_cf_));
  std::string prefix;
  if (!application.empty()) {
    prefix.assign(application);
    prefix.push_back('\0');
  }
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto cp = ToCheckpoint(it->key().ToStringView(), it->value().ToStringView());
    if (cp.ok()) {
      out.push_back(std::move(*cp));
    } else {
      log_->error("skipping undecodable checkpoint: {}", cp.status().ToString());
    }
  }
  if (!it->status().ok()) log_->error("listing checkpoints: {}", it->status().ToString());
  return out;
}

}  // namespace tideline::storage
