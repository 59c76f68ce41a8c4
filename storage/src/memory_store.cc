// An in-memory Store (Store::OpenInMemory): the same contract as the RocksDB store, nothing on
// disk. Streams, shards, sequence numbers and checkpoints use the same encodings (hash_key.h,
// sequence_number.h, keys.h), so a sequence number or shard id from one is well-formed for
// the other.
//
// Appends complete inline, on the caller's thread: the write_fault hook is consulted, the
// records are stored and published, and only then is the callback run (no lock held).
//
// Locks (lock order: write_mu_ -> mu_; trim_mu_ is a leaf):
// - write_mu_ serialises appends, as the RocksDB store's single writer does, and is held while
//   the write_fault hook runs, so a hook that blocks holds later appends back, not readers.
// - mu_ guards every stream, shard, record and checkpoint, the uid counters, sticky_error_,
//   wake_epoch_ and the statistics. Callbacks and visitors never run with it held.
// - trim_mu_ guards trim_stop_ (the background trimmer's stop flag).
// - observers_ has its own leaf lock; commit observers are called with neither write_mu_ nor
//   mu_ held.
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "commit_observers.h"
#include "common/regional_stream.h"
#include "deleting_streams.h"
#include "keys.h"
#include "reshard_plan.h"
#include "retention_clock.h"
#include "store_common.h"
#include "store_impl.h"

namespace tideline::storage {
namespace {

constexpr uint32_t kMaxShardsPerStream = 100'000;

struct MemRecord {
  std::string partition_key;
  std::string explicit_hash_key;
  std::string data;
  int64_t arrival_ms = 0;
};

struct MemShard {
  std::string id;
  uint64_t uid = 0;
  HashKeyRange range{};
  uint64_t trim = 1;  // offset of records.front()
  // Offsets trim..last. Shared so that a read can visit them after letting go of mu_.
  std::deque<std::shared_ptr<const MemRecord>> records;
  int64_t last_arrival_ms = 0;  // arrival of the record at last(); 0 when none was written
  std::string parent_id;
  std::string adjacent_parent_id;
  int64_t created_ms = 0;
  bool closed = false;
  uint64_t ending_offset = 0;
  int64_t closed_ms = 0;
  std::vector<uint32_t> children;
  bool removed = false;  // retention removed the closed shard

  uint64_t last() const { return trim - 1 + records.size(); }
};

struct MemStream {
  std::string name;
  uint64_t uid = 0;
  int64_t created_ms = 0;
  int retention_hours = kMinRetentionHours;
  // index == shard number; a deque so that references stay valid as reshards add shards.
  std::deque<MemShard> shards;
  std::vector<uint32_t> open;  // open shards by range start
  bool deleted = false;
  StreamAttributes attributes;
  int64_t updating_until_ms = 0;  // MonotonicMs
  int64_t creating_until_ms = 0;  // MonotonicMs; StoreOptions::status_delay
  std::vector<int64_t> scalings_ms;
};

class MemoryStore final : public Store {
 public:
  MemoryStore(const StoreOptions& options, const StoreHooks& hooks)
      : options_(options),
        hooks_(hooks),
        clock_(hooks_.clock_or_system()),
        log_(StorageLogger()),
        retention_clock_(clock_, log_) {}

  Status Start() {
    secret_.assign(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), 32) != 1) {
      return Status::Internal("RAND_bytes failed to create the iterator secret");
    }
    trimmer_ = std::thread([this] { TrimmerLoop(); });
    return Status::Ok();
  }

  ~MemoryStore() override {
    {
      std::lock_guard<std::mutex> lock(trim_mu_);
      trim_stop_ = true;
    }
    trim_cv_.notify_all();
    if (trimmer_.joinable()) trimmer_.join();
  }

  // ---- Streams.
  using Store::CreateStream;
  Status CreateStream(const StreamName& name, uint32_t shard_count,
                      const StreamAttributes& attributes) override {
    TL_RETURN_IF_ERROR(ValidateStoredStreamName(name.get()));
    if (shard_count < 1 || shard_count > kMaxShardsPerStream) {
      return Status::InvalidArgument("shard count must be in 1..100000, got " +
                                     std::to_string(shard_count));
    }
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t mono = clock_.MonotonicMs();
    deleting_.Purge(mono);
    if (streams_.count(name.get()) != 0) {
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
    auto stream = std::make_shared<MemStream>();
    stream->name = name.get();
    stream->uid = next_uid_;
    stream->created_ms = clock_.NowMs();
    stream->creating_until_ms = mono + options_.status_delay.count();
    stream->attributes = attributes;
    if (stream->attributes.stream_id.empty()) stream->attributes.stream_id = NewStreamId();
    const auto ranges = EvenHashKeyRanges(shard_count);
    stream->shards.resize(shard_count);
    for (uint32_t i = 0; i < shard_count; ++i) {
      stream->shards[i].id = keys::ShardIdForIndex(i);
      stream->shards[i].uid = next_uid_ + 1 + i;
      stream->shards[i].range = ranges[i];
      stream->shards[i].created_ms = stream->created_ms;
      stream->open.push_back(i);
    }
    next_uid_ += 1 + shard_count;
    total_shards_ += shard_count;
    streams_.emplace(name.get(), std::move(stream));
    return Status::Ok();
  }

  Status DeleteStream(const StreamName& name) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = streams_.find(name.get());
      if (it == streams_.end()) return Status::NotFound("stream " + name.get() + " not found");
      const MemStream& gone = *it->second;
      const int64_t mono = clock_.MonotonicMs();
      deleting_.Add(
          name.get(),
          {gone.uid, gone.created_ms, gone.retention_hours, mono + options_.status_delay.count()},
          mono);
      it->second->deleted = true;
      total_shards_ -= it->second->open.size();
      streams_.erase(it);
      std::erase_if(checkpoints_, [&](const auto& entry) { return entry.second.stream == name; });
    }
    WakeWaiters();  // readers tailing the stream see it is gone
    return Status::Ok();
  }

  std::vector<StreamName> ListStreams(std::string_view exclusive_start,
                                      size_t limit) const override {
    std::vector<std::string> live;
    std::vector<std::string> deleting;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = exclusive_start.empty() ? streams_.begin()
                                      : streams_.upper_bound(std::string(exclusive_start));
    for (; it != streams_.end() && live.size() < limit; ++it)
      live.push_back(it->first);
    deleting_.AppendNames(exclusive_start, limit, clock_.MonotonicMs(), deleting);
    return DeletingStreams::Merge(std::move(live), deleting, limit);
  }

  Result<StreamStatus> GetStreamStatus(const StreamName& name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(name.get());
    if (it != streams_.end()) return StatusOf(*it->second);
    if (deleting_.Find(name.get(), clock_.MonotonicMs())) return StreamStatus::kDeleting;
    return Status::NotFound("stream " + name.get() + " not found");
  }

  Result<StreamInfo> DescribeStream(const StreamName& name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(name.get());
    if (it == streams_.end()) {
      if (const auto* e = deleting_.Find(name.get(), clock_.MonotonicMs())) {
        return DeletingStreams::Describe(name.get(), e->uid, e->created_ms, e->retention_hours);
      }
      return Status::NotFound("stream " + name.get() + " not found");
    }
    const MemStream& stream = *it->second;
    StreamInfo info;
    info.name = name;
    info.uid = stream.uid;
    info.created_ms = stream.created_ms;
    info.retention_hours = stream.retention_hours;
    info.status = StatusOf(stream);
    for (const MemShard& shard : stream.shards) {
      if (shard.removed) continue;
      ShardInfo si;
      si.id = ShardId(shard.id);
      si.uid = ShardUid(shard.uid);
      si.hash_range = shard.range;
      si.starting_sequence_number = EncodeSequenceNumber({shard.uid, 1});
      si.trim_offset = Offset(shard.trim);
      si.last_offset = Offset(shard.last());
      si.parent_shard_id = shard.parent_id;
      si.adjacent_parent_shard_id = shard.adjacent_parent_id;
      si.created_ms = shard.created_ms;
      if (shard.closed) {
        si.closed = true;
        si.ending_offset = Offset(shard.ending_offset);
        si.ending_sequence_number = EncodeSequenceNumber({shard.uid, shard.ending_offset});
        si.closed_ms = shard.closed_ms;
      }
      info.shards.push_back(std::move(si));
    }
    return info;
  }

  Status SetRetentionHours(const StreamName& name, int hours) override {
    if (hours < kMinRetentionHours || hours > kMaxRetentionHours) {
      return Status::InvalidArgument("retention must be 24..8760 hours, got " +
                                     std::to_string(hours));
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(name.get());
    if (it == streams_.end()) return Status::NotFound("stream " + name.get() + " not found");
    it->second->retention_hours = hours;
    return Status::Ok();
  }

  uint32_t ShardLimit() const override { return options_.shard_limit; }

  Result<StreamAttributes> GetStreamAttributes(const StreamName& name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(name.get());
    if (it == streams_.end()) return Status::NotFound("stream " + name.get() + " not found");
    return it->second->attributes;
  }

  Status UpdateStreamAttributes(const StreamName& name, const AttributesUpdate& update) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(name.get());
    if (it == streams_.end()) return Status::NotFound("stream " + name.get() + " not found");
    StreamAttributes next = it->second->attributes;
    TL_RETURN_IF_ERROR(update(next));
    it->second->attributes = std::move(next);
    return Status::Ok();
  }

  AccountSettings GetAccountSettings() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return account_;
  }

  Status UpdateAccountSettings(const AccountSettingsUpdate& update) override {
    std::lock_guard<std::mutex> lock(mu_);
    AccountSettings next = account_;
    TL_RETURN_IF_ERROR(update(next));
    account_ = next;
    return Status::Ok();
  }

  // ---- Appends.
  void AppendAsync(const StreamName& stream_name, std::span<const AppendRecord> records,
                   AppendCallback done) override {
    std::shared_ptr<MemStream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = streams_.find(stream_name.get());
      if (it != streams_.end()) stream = it->second;
    }
    if (!stream) {
      done(Status::NotFound("stream " + stream_name.get() + " not found"));
      return;
    }
    std::vector<HashKey> keys;
    keys.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const Result<HashKey> routed = RecordHashKey(records[i], i);
      if (!routed.ok()) {
        done(routed.status());
        return;
      }
      keys.push_back(*routed);
    }
    if (records.empty()) {
      done(std::vector<AppendedRecord>{});
      return;
    }
    std::vector<ShardUid> touched;
    Result<std::vector<AppendedRecord>> committed = Commit(*stream, records, keys, touched);
    // After the commit, before the acknowledgement, as the RocksDB store's writer does.
    if (!touched.empty()) observers_.Notify(touched);
    done(std::move(committed));
  }

  // ---- Resharding: planned and applied under write_mu_ (ordered with appends) and mu_.
  Status SplitShard(const StreamName& stream, const ShardId& shard,
                    HashKey new_starting_hash_key) override {
    return Reshard(
        stream, false,
        [&](const MemStream& s, const std::vector<OpenShardRef>& open) -> Result<ReshardPlan> {
          auto index = OpenIndex(s, stream, shard, "split");
          if (!index.ok()) return index.status();
          return PlanSplit(open, static_cast<uint32_t>(s.shards.size()), *index,
                           new_starting_hash_key, "stream " + stream.get());
        });
  }

  Status MergeShards(const StreamName& stream, const ShardId& shard,
                     const ShardId& adjacent_shard) override {
    return Reshard(
        stream, false,
        [&](const MemStream& s, const std::vector<OpenShardRef>& open) -> Result<ReshardPlan> {
          auto a = OpenIndex(s, stream, shard, "merged");
          if (!a.ok()) return a.status();
          auto b = OpenIndex(s, stream, adjacent_shard, "merged");
          if (!b.ok()) return b.status();
          return PlanMerge(open, static_cast<uint32_t>(s.shards.size()), *a, *b,
                           "stream " + stream.get());
        });
  }

  Result<ShardCountChange> UpdateShardCount(const StreamName& stream, uint32_t target,
                                            ScalingType) override {
    ShardCountChange change;
    change.target = target;
    Status st =
        Reshard(stream, true, [&](const MemStream& s, const std::vector<OpenShardRef>& open) {
          change.current = static_cast<uint32_t>(s.open.size());
          return PlanUniformScaling(open, static_cast<uint32_t>(s.shards.size()), target,
                                    "stream " + stream.get());
        });
    if (!st.ok()) return st;
    return change;
  }

  // ---- Reads.
  Result<Offset> ResolvePosition(const StreamName& stream, const ShardId& shard_id,
                                 const StreamPosition& where) const override {
    const StartingPosition position = where.type;
    const std::string_view sequence_number = where.sequence_number;
    const int64_t timestamp_ms = where.timestamp_ms;
    std::lock_guard<std::mutex> lock(mu_);
    auto found = FindShard(stream, shard_id);
    if (!found.ok()) return found.status();
    const MemShard& shard = **found;
    const uint64_t last = shard.last();
    switch (position) {
      case StartingPosition::kTrimHorizon:
        return Offset(shard.trim);
      case StartingPosition::kLatest:
        return Offset(last + 1);
      case StartingPosition::kAtTimestamp:
        return Offset(FirstOffsetAtOrAfter(shard, timestamp_ms));
      case StartingPosition::kAtSequenceNumber:
      case StartingPosition::kAfterSequenceNumber:
        break;
    }
    return ResolveSequenceNumber(position, sequence_number, shard.uid, shard.id, stream, last,
                                 shard.trim);
  }

  Result<ReadSummary> Read(const StreamName& stream, const ShardId& shard_id, Offset from,
                           const ReadLimits& limits,
                           const std::function<void(const RecordView&)>& visit) const override {
    ReadSummary summary;
    std::vector<std::shared_ptr<const MemRecord>> batch;
    uint64_t start = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto found = FindShard(stream, shard_id);
      if (!found.ok()) return found.status();
      const MemShard& shard = **found;
      const uint64_t last = shard.last();
      summary.last_offset = Offset(last);
      summary.last_arrival_ms = last == 0 ? 0 : shard.last_arrival_ms;
      start = std::max(from.get(), shard.trim);
      summary.next = Offset(start);
      uint64_t end = start;
      for (uint64_t offset = start; offset <= last; ++offset) {
        const auto& record = shard.records[offset - shard.trim];
        const size_t size = record->data.size() + record->partition_key.size();
        if (!batch.empty() &&
            (batch.size() >= limits.max_records || summary.bytes + size > limits.max_bytes)) {
          break;
        }
        batch.push_back(record);
        summary.bytes += size;
        end = offset + 1;
      }
      summary.next = Offset(end);
      MarkShardEnd(*streams_.at(stream.get()), shard, &summary);
    }
    for (const auto& record : batch) {
      visit(RecordView{Offset(start + summary.records), record->partition_key,
                       record->explicit_hash_key, record->data, record->arrival_ms});
      ++summary.records;
    }
    summary.next = Offset(start + summary.records);
    return summary;
  }

  Result<Offset> WaitForRecords(const StreamName& stream, const ShardId& shard_id, Offset after,
                                std::chrono::milliseconds timeout) const override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    auto found = FindShard(stream, shard_id);
    if (!found.ok()) return found.status();
    const MemShard& shard = **found;
    // Keeps the stream (and so `shard`) alive if it is deleted while we wait.
    const std::shared_ptr<MemStream> holder = streams_.at(stream.get());
    const uint64_t wake_epoch = wake_epoch_;
    while (shard.last() <= after.get() && wake_epoch_ == wake_epoch && !holder->deleted &&
           !shard.closed) {
      if (commit_cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    if (holder->deleted) return Status::NotFound("stream " + stream.get() + " not found");
    return Offset(shard.last());
  }

  void WakeWaiters() const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++wake_epoch_;
    }
    commit_cv_.notify_all();
    observers_.Notify({});
  }

  uint64_t AddCommitObserver(CommitObserver observer) const override {
    return observers_.Add(std::move(observer));
  }
  void RemoveCommitObserver(uint64_t id) const override { observers_.Remove(id); }

  // ---- Retention.
  Result<uint64_t> TrimExpired() override {
    const int64_t now = retention_clock_.NowMs();
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t removed = 0;
    for (auto& [name, stream] : streams_) {
      const int64_t retention_ms = hooks_.retention_override.count() > 0
                                       ? hooks_.retention_override.count()
                                       : int64_t{stream->retention_hours} * 3600 * 1000;
      const int64_t cutoff = now - retention_ms;
      for (MemShard& shard : stream->shards) {
        if (shard.removed) continue;
        const uint64_t keep = FirstOffsetAtOrAfter(shard, cutoff);
        removed += keep - shard.trim;
        shard.records.erase(shard.records.begin(),
                            shard.records.begin() + static_cast<ptrdiff_t>(keep - shard.trim));
        shard.trim = keep;
        if (shard.closed && shard.trim > shard.ending_offset && shard.closed_ms < cutoff) {
          // Every record aged out and it closed longer than the retention ago: it goes, with
          // its checkpoints (the deque entry stays so that references held by waiters live).
          shard.removed = true;
          const std::string& stream_name = stream->name;  // clang 14 cannot capture a binding
          std::erase_if(checkpoints_, [&](const auto& entry) {
            return entry.second.stream.get() == stream_name && entry.second.shard.get() == shard.id;
          });
        }
      }
    }
    return removed;
  }

  // ---- Checkpoints.
  Status SetCheckpoint(const CheckpointOwner& owner, const StreamName& stream, const ShardId& shard,
                       const SequenceNumber& sequence_number) override {
    const ShardCheckpoint one{shard, sequence_number};
    return SetCheckpoints(owner, stream, std::span(&one, 1));
  }

  Status SetCheckpoints(const CheckpointOwner& owner, const StreamName& stream,
                        std::span<const ShardCheckpoint> checkpoints) override {
    const std::string_view application = owner.get();
    TL_RETURN_IF_ERROR(owner.Validate());
    const int64_t now = clock_.NowMs();
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Checkpoint> out;
    for (const ShardCheckpoint& c : checkpoints) {
      auto found = FindShard(stream, c.shard);
      if (!found.ok()) return found.status();
      const MemShard& shard = **found;
      auto pos = DecodeSequenceNumber(c.sequence_number.get());
      if (!pos) {
        std::string msg = "'";
        msg.append(c.sequence_number.get().substr(0, 64))
            .append("' is not a valid sequence number");
        return Status::InvalidArgument(std::move(msg));
      }
      if (pos->shard_uid != shard.uid) {
        return Status::InvalidArgument("sequence number " + c.sequence_number.get() +
                                       " does not belong to " + shard.id);
      }
      if (pos->offset > shard.last()) {
        return Status::InvalidArgument("sequence number " + c.sequence_number.get() +
                                       " was never issued in " + shard.id);
      }
      out.push_back(
          Checkpoint{owner, stream, c.shard, c.sequence_number, Offset(pos->offset), now});
    }
    for (Checkpoint& cp : out) {
      checkpoints_[keys::CheckpointKey(application, stream.get(), cp.shard.get())] = std::move(cp);
    }
    return Status::Ok();
  }

  Status SetCheckpointAtTimestamp(const CheckpointOwner& owner, const StreamName& stream,
                                  const ShardId& shard_id, int64_t timestamp_ms) override {
    const std::string_view application = owner.get();
    TL_RETURN_IF_ERROR(owner.Validate());
    const int64_t now = clock_.NowMs();
    std::lock_guard<std::mutex> lock(mu_);
    auto found = FindShard(stream, shard_id);
    if (!found.ok()) return found.status();
    const MemShard& shard = **found;
    const uint64_t offset = FirstOffsetAtOrAfter(shard, timestamp_ms) - 1;
    checkpoints_[keys::CheckpointKey(application, stream.get(), shard_id.get())] = Checkpoint{
        owner, stream, shard_id, EncodeSequenceNumber({shard.uid, offset}), Offset(offset), now};
    return Status::Ok();
  }

  Result<Checkpoint> GetCheckpoint(const CheckpointOwner& owner, const StreamName& stream,
                                   const ShardId& shard) const override {
    const std::string_view application = owner.get();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = checkpoints_.find(keys::CheckpointKey(application, stream.get(), shard.get()));
    if (it == checkpoints_.end()) {
      return Status::NotFound("no checkpoint for application " + std::string(application) + " on " +
                              stream.get() + "/" + shard.get());
    }
    return it->second;
  }

  std::vector<Checkpoint> ListCheckpoints(const CheckpointOwner& owner) const override {
    const std::string_view application = owner.get();
    std::string prefix;
    if (!application.empty()) {
      prefix.assign(application);
      prefix.push_back('\0');
    }
    std::vector<Checkpoint> out;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = checkpoints_.lower_bound(prefix);
         it != checkpoints_.end() && it->first.starts_with(prefix); ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  // ---- Misc.
  const std::string& IteratorSecret() const override { return secret_; }

  Status Health() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return sticky_error_;
  }

  StoreStats Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  // CREATING, UPDATING or ACTIVE. Called with mu_ held.
  StreamStatus StatusOf(const MemStream& stream) const {
    const int64_t mono = clock_.MonotonicMs();
    if (mono < stream.creating_until_ms) return StreamStatus::kCreating;
    if (mono < stream.updating_until_ms) return StreamStatus::kUpdating;
    return StreamStatus::kActive;
  }

  // Called with mu_ held.
  Result<MemShard*> FindShard(const StreamName& stream, const ShardId& shard) const {
    auto it = streams_.find(stream.get());
    if (it == streams_.end()) return Status::NotFound("stream " + stream.get() + " not found");
    auto index = keys::ShardIndexFromId(shard.get());
    if (!index || *index >= it->second->shards.size() || it->second->shards[*index].removed) {
      return Status::NotFound("shard " + shard.get() + " not found in stream " + stream.get());
    }
    return &it->second->shards[*index];
  }

  // The shard number of open `shard`; NotFound / InvalidArgument (closed). Called with mu_ held.
  static Result<uint32_t> OpenIndex(const MemStream& s, const StreamName& stream,
                                    const ShardId& shard, std::string_view verb) {
    auto index = keys::ShardIndexFromId(shard.get());
    if (!index || *index >= s.shards.size() || s.shards[*index].removed) {
      return Status::NotFound("Could not find shard " + shard.get() + " in stream " + stream.get());
    }
    if (s.shards[*index].closed) {
      return Status::InvalidArgument("Shard " + shard.get() + " in stream " + stream.get() +
                                     " is closed and cannot be " + std::string(verb));
    }
    return *index;
  }

  // Runs one reshard (ReshardLocked), then tells the commit observers, with no lock held.
  template <typename PlanFn>
  Status Reshard(const StreamName& name, bool scaling, PlanFn&& plan_fn) {
    Status st = ReshardLocked(name, scaling, std::forward<PlanFn>(plan_fn));
    if (st.ok()) observers_.Notify({});
    return st;
  }

  template <typename PlanFn>
  Status ReshardLocked(const StreamName& name, bool scaling, PlanFn&& plan_fn) {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(name.get());
    if (it == streams_.end()) return Status::NotFound("Stream " + name.get() + " not found");
    MemStream& stream = *it->second;
    const int64_t mono = clock_.MonotonicMs();
    if (mono < stream.updating_until_ms) {
      return Status::ResourceInUse("Stream " + name.get() +
                                   " is not ACTIVE: it was resharded moments ago and is UPDATING");
    }
    if (scaling) {
      std::erase_if(stream.scalings_ms, [mono](int64_t t) { return mono - t >= 24 * 3600 * 1000; });
      if (stream.scalings_ms.size() >= static_cast<size_t>(kMaxScalingsPerDay)) {
        return Status::LimitExceeded("Stream " + name.get() + " has been scaled " +
                                     std::to_string(kMaxScalingsPerDay) +
                                     " times in the last 24 hours, the most UpdateShardCount "
                                     "allows; try again later");
      }
    }
    std::vector<OpenShardRef> open;
    for (uint32_t index : stream.open)
      open.push_back({index, stream.shards[index].range});
    Result<ReshardPlan> plan = plan_fn(stream, open);
    if (!plan.ok()) return plan.status();
    if (plan->created.empty()) return Status::Ok();
    if (plan->open_after > stream.open.size() &&
        total_shards_ - stream.open.size() + plan->open_after > options_.shard_limit) {
      return Status::LimitExceeded(
          "resharding " + name.get() + " to " + std::to_string(plan->open_after) +
          " open shards would exceed the shard limit of " + std::to_string(options_.shard_limit) +
          " (" + std::to_string(total_shards_) + " in use)");
    }
    if (hooks_.write_fault) TL_RETURN_IF_ERROR(hooks_.write_fault());
    const int64_t now = clock_.NowMs();
    for (uint32_t index : plan->closed) {
      MemShard& shard = stream.shards[index];
      shard.closed = true;
      shard.ending_offset = shard.last();
      shard.closed_ms = now;
    }
    for (const PlannedShard& p : plan->created) {
      MemShard& shard = stream.shards.emplace_back();
      shard.id = keys::ShardIdForIndex(p.index);
      shard.uid = next_uid_++;
      shard.range = p.range;
      shard.created_ms = now;
      if (p.parent) {
        shard.parent_id = keys::ShardIdForIndex(*p.parent);
        stream.shards[*p.parent].children.push_back(p.index);
      }
      if (p.adjacent_parent) {
        shard.adjacent_parent_id = keys::ShardIdForIndex(*p.adjacent_parent);
        stream.shards[*p.adjacent_parent].children.push_back(p.index);
      }
      if (!p.open) {
        shard.closed = true;
        shard.closed_ms = now;
      }
    }
    total_shards_ = total_shards_ - stream.open.size() + plan->open_after;
    stream.open.clear();
    for (uint32_t i = 0; i < stream.shards.size(); ++i) {
      if (!stream.shards[i].closed && !stream.shards[i].removed) stream.open.push_back(i);
    }
    std::sort(stream.open.begin(), stream.open.end(), [&](uint32_t a, uint32_t b) {
      return stream.shards[a].range.start < stream.shards[b].range.start;
    });
    if (scaling) stream.scalings_ms.push_back(mono);
    stream.updating_until_ms = mono + options_.reshard_updating_delay.count();
    commit_cv_.notify_all();  // readers waiting at a parent's end return now
    return Status::Ok();
  }

  // Sets shard_end and the children when a read of `shard` ended past its last record.
  // Called with mu_ held.
  static void MarkShardEnd(const MemStream& stream, const MemShard& shard, ReadSummary* summary) {
    if (!shard.closed || summary->next.get() <= shard.ending_offset) return;
    summary->shard_end = true;
    for (uint32_t index : shard.children) {
      const MemShard& child = stream.shards[index];
      if (child.removed) continue;
      ChildShard c;
      c.id = ShardId(child.id);
      c.parents.emplace_back(child.parent_id);
      if (!child.adjacent_parent_id.empty()) c.parents.emplace_back(child.adjacent_parent_id);
      c.hash_range = child.range;
      summary->children.push_back(std::move(c));
    }
  }

  // First offset in [trim, last + 1] whose arrival >= ts (last + 1 when none). Called with mu_
  // held. Arrival times never decrease within a shard.
  static uint64_t FirstOffsetAtOrAfter(const MemShard& shard, int64_t ts) {
    auto first = std::partition_point(shard.records.begin(), shard.records.end(),
                                      [ts](const auto& r) { return r->arrival_ms < ts; });
    return shard.trim + static_cast<uint64_t>(first - shard.records.begin());
  }

  // Stores one routed append: all of it or, after a fault, nothing (sticky).
  // `touched` receives the uids of the shards that got records.
  Result<std::vector<AppendedRecord>> Commit(MemStream& stream,
                                             std::span<const AppendRecord> records,
                                             const std::vector<HashKey>& keys,
                                             std::vector<ShardUid>& touched) {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!sticky_error_.ok()) return sticky_error_;
    }
    if (hooks_.write_fault) {
      if (Status fault = hooks_.write_fault(); !fault.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        sticky_error_ =
            fault.code() == StatusCode::kIOError ? fault : Status::IOError(fault.ToString());
        log_->error("append write failed; refusing all further appends until reopened: {}",
                    fault.ToString());
        return sticky_error_;
      }
    }
    const auto started = std::chrono::steady_clock::now();
    std::vector<AppendedRecord> out;
    out.reserve(records.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream.deleted) return Status::NotFound("stream " + stream.name + " not found");
      const int64_t now = clock_.NowMs();
      for (size_t i = 0; i < records.size(); ++i) {
        // Routed under mu_: the open shards are those of the last reshard.
        auto next = std::upper_bound(
            stream.open.begin(), stream.open.end(), keys[i],
            [&](HashKey k, uint32_t index) { return k < stream.shards[index].range.start; });
        MemShard& shard = stream.shards[*(next - 1)];
        shard.last_arrival_ms = std::max(now, shard.last_arrival_ms);
        shard.records.push_back(std::make_shared<const MemRecord>(MemRecord{
            std::string(records[i].partition_key), std::string(records[i].explicit_hash_key),
            std::string(records[i].data), shard.last_arrival_ms}));
        out.push_back({ShardId(shard.id), EncodeSequenceNumber({shard.uid, shard.last()})});
        if (std::find(touched.begin(), touched.end(), ShardUid(shard.uid)) == touched.end()) {
          touched.emplace_back(shard.uid);
        }
      }
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      const auto& bounds = StoreStats::kCommitBuckets;
      ++stats_.commit_buckets[std::lower_bound(bounds.begin(), bounds.end(), took.count()) -
                              bounds.begin()];
      stats_.commit_seconds += took.count();
      stats_.committed_records += records.size();
      ++stats_.group_commits;
    }
    commit_cv_.notify_all();
    return out;
  }

  void TrimmerLoop() {
    std::unique_lock<std::mutex> lock(trim_mu_);
    for (;;) {
      if (trim_cv_.wait_for(lock, options_.trim_interval, [this] { return trim_stop_; })) return;
      lock.unlock();
      auto removed = TrimExpired();
      if (removed.ok() && *removed > 0) log_->info("retention removed {} records", *removed);
      lock.lock();
    }
  }

  const StoreOptions options_;
  const StoreHooks hooks_;
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> log_;
  RetentionClock retention_clock_;
  std::string secret_;  // set by Start, then read-only

  std::mutex write_mu_;
  mutable std::mutex mu_;
  mutable std::condition_variable commit_cv_;                  // on mu_: commits and wakes
  std::map<std::string, std::shared_ptr<MemStream>> streams_;  // GUARDED_BY(mu_)
  DeletingStreams deleting_;                                   // GUARDED_BY(mu_)
  std::map<std::string, Checkpoint> checkpoints_;              // GUARDED_BY(mu_), CheckpointKey
  uint64_t total_shards_ = 0;                                  // GUARDED_BY(mu_)
  uint64_t next_uid_ = 1;                                      // GUARDED_BY(mu_)
  AccountSettings account_;                                    // GUARDED_BY(mu_)
  Status sticky_error_;                                        // GUARDED_BY(mu_)
  mutable uint64_t wake_epoch_ = 0;                            // GUARDED_BY(mu_)
  mutable CommitObservers observers_;                          // its own leaf lock
  StoreStats stats_;                                           // GUARDED_BY(mu_)

  std::mutex trim_mu_;
  std::condition_variable trim_cv_;
  bool trim_stop_ = false;  // GUARDED_BY(trim_mu_)
  std::thread trimmer_;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::OpenInMemory(const StoreOptions& options,
                                                   const StoreHooks& hooks) {
  TL_RETURN_IF_ERROR(ValidateStoreOptions(options));
  auto store = std::make_unique<MemoryStore>(options, hooks);
  TL_RETURN_IF_ERROR(store->Start());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tideline::storage
