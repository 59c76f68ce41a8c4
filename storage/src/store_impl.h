// The RocksDB implementation of Store. Private to storage.
//
// Locks (lock order: StreamState::meta_mu -> streams_mu_ -> queue_mu_; never the reverse;
// commit_mu_ is a leaf taken with no other lock held):
// - streams_mu_ guards streams_, deleting_, total_shards_ and next_uid_.
// - StreamState::meta_mu serialises every rewrite of one stream's meta record (retention, trim,
//   deletion) and its checkpoint writes, so a deleted stream never gets a checkpoint back.
// - queue_mu_ guards queue_, queued_bytes_, stopping_ and sticky_error_.
// A reshard's caller holds the stream's meta_mu while the writer thread commits it
// (ApplyReshard takes streams_mu_), so the writer never waits for a meta_mu.
// DiskSpaceGuard has its own leaf lock (disk_space.h) and is never called with queue_mu_ held.
// Published shard positions (last_offset, trim_offset) are atomics: the writer stores
// last_offset with release after its WriteBatch is durable; readers load with acquire.
#pragma once

#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "commit_observers.h"
#include "deleting_streams.h"
#include "disk_space.h"
#include "retention_clock.h"
#include "storage/hooks.h"
#include "storage/store.h"
#include "tideline.pb.h"

namespace tideline::storage {

struct ReshardPlan;  // reshard_plan.h

struct ShardState {
  std::string id;
  uint32_t index = 0;
  uint64_t uid = 0;
  HashKeyRange range{};
  std::string parent_id;           // lineage; empty for the stream's first shards
  std::string adjacent_parent_id;  // the other parent of a merge
  int64_t created_ms = 0;
  // Highest acknowledged offset; readers never look past it.
  std::atomic<uint64_t> last_offset{0};
  // Arrival time of the record at last_offset (0 when unknown).
  std::atomic<int64_t> last_arrival_ms{0};
  // Lowest offset not trimmed.
  std::atomic<uint64_t> trim_offset{1};
  // Writer thread only: last offset assigned (maybe not yet durable) and its arrival time.
  uint64_t writer_offset = 0;
  int64_t writer_arrival_ms = 0;
  // Writer thread only: the shard was closed by a committed reshard; appends routed to it
  // before then go to the open shard that now owns their hash key.
  bool writer_closed = false;
  // Closing. ending_offset, closed_ms and children are written once, before `closed` is set
  // (release); read them only after loading `closed` == true (acquire).
  std::atomic<bool> closed{false};
  uint64_t ending_offset = 0;
  int64_t closed_ms = 0;
  std::vector<uint32_t> children;  // shard numbers
};

// One immutable version of a stream's shards. Appends route through `open` with no lock:
// a reshard publishes a new table (StreamState::table, release) and keeps the old ones (and
// every ShardState) alive until the stream is destroyed, so a pointer loaded once stays valid.
struct ShardTable {
  std::vector<ShardState*> by_index;  // index == shard number; nullptr once retention removed it
  std::vector<ShardState*> open;      // open shards by range start; they cover every hash key
  uint32_t next_index = 0;            // the next shard number a reshard makes
};

struct StreamState {
  std::string name;
  uint64_t uid = 0;
  int64_t created_ms = 0;
  std::atomic<int> retention_hours{kMinRetentionHours};
  // CREATING until then (MonotonicMs; StoreOptions::status_delay). 0 for streams read at Open.
  int64_t creating_until_ms = 0;
  // Set (under streams_mu_) when deletion starts; appends, reads and checkpoints then fail.
  std::atomic<bool> deleted{false};
  std::mutex meta_mu;
  StreamAttributes attributes;  // GUARDED_BY(meta_mu)

  // The current shard table (never null once the stream is published).
  const ShardTable& table() const { return *table_.load(std::memory_order_acquire); }
  // Publishes `next` (meta_mu held, or the stream not yet shared).
  void Publish(std::unique_ptr<ShardTable> next) {
    table_.store(next.get(), std::memory_order_release);
    tables_.push_back(std::move(next));
  }
  // Every ShardState the stream ever had (GUARDED_BY(meta_mu) once shared).
  std::vector<std::unique_ptr<ShardState>> owned;

  // Reshard state: one at a time (`resharding`), then UPDATING until updating_until_ms
  // (MonotonicMs); scalings_ms holds the MonotonicMs of recent UpdateShardCounts
  // (GUARDED_BY(meta_mu)).
  std::atomic<bool> resharding{false};
  std::atomic<int64_t> updating_until_ms{0};
  std::vector<int64_t> scalings_ms;

 private:
  std::atomic<const ShardTable*> table_{nullptr};
  std::vector<std::unique_ptr<const ShardTable>> tables_;  // GUARDED_BY(meta_mu) once shared
};

// One AppendAsync call waiting for the writer, or a barrier (stream == nullptr).
struct PendingAppend {
  std::shared_ptr<StreamState> stream;
  std::span<const AppendRecord> records;
  std::vector<ShardState*> shard_of;  // per record: the open shard it was routed to
  size_t bytes = 0;
  // Set instead of records: work the writer runs alone, after every earlier append completed
  // and before any later one (RunOnWriter); its status goes to `done` as an error or empty.
  std::function<Status()> task;
  AppendCallback done;
  // Filled by the writer.
  Status status;
  std::vector<AppendedRecord> out;
};

class StoreImpl final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const StoreHooks& hooks);
  ~StoreImpl() override;

  using Store::CreateStream;
  Status CreateStream(const StreamName& name, uint32_t shard_count,
                      const StreamAttributes& attributes) override;
  Status DeleteStream(const StreamName& name) override;
  std::vector<StreamName> ListStreams(std::string_view exclusive_start,
                                      size_t limit) const override;
  Result<StreamInfo> DescribeStream(const StreamName& name) const override;
  Result<StreamStatus> GetStreamStatus(const StreamName& name) const override;
  Status SetRetentionHours(const StreamName& name, int hours) override;
  uint32_t ShardLimit() const override { return options_.shard_limit; }
  Result<StreamAttributes> GetStreamAttributes(const StreamName& name) const override;
  Status UpdateStreamAttributes(const StreamName& name, const AttributesUpdate& update) override;
  AccountSettings GetAccountSettings() const override;
  Status UpdateAccountSettings(const AccountSettingsUpdate& update) override;

  Status SplitShard(const StreamName& stream, const ShardId& shard,
                    HashKey new_starting_hash_key) override;
  Status MergeShards(const StreamName& stream, const ShardId& shard,
                     const ShardId& adjacent_shard) override;
  Result<ShardCountChange> UpdateShardCount(const StreamName& stream, uint32_t target,
                                            ScalingType scaling) override;

  void AppendAsync(const StreamName& stream, std::span<const AppendRecord> records,
                   AppendCallback done) override;

  Result<Offset> ResolvePosition(const StreamName& stream, const ShardId& shard,
                                 const StreamPosition& position) const override;
  Result<ReadSummary> Read(const StreamName& stream, const ShardId& shard, Offset from,
                           const ReadLimits& limits,
                           const std::function<void(const RecordView&)>& visit) const override;

  Result<Offset> WaitForRecords(const StreamName& stream, const ShardId& shard, Offset after,
                                std::chrono::milliseconds timeout) const override;
  void WakeWaiters() const override;
  // Wakes WaitForRecords callers and tells the commit observers: `shards` got records (empty:
  // a reshard; every reader should look again).
  void NotifyCommitted(std::span<const ShardUid> shards) const;
  uint64_t AddCommitObserver(CommitObserver observer) const override {
    return observers_.Add(std::move(observer));
  }
  void RemoveCommitObserver(uint64_t id) const override { observers_.Remove(id); }

  Result<uint64_t> TrimExpired() override;

  Status SetCheckpoint(const CheckpointOwner& owner, const StreamName& stream, const ShardId& shard,
                       const SequenceNumber& sequence_number) override;
  Status SetCheckpoints(const CheckpointOwner& owner, const StreamName& stream,
                        std::span<const ShardCheckpoint> checkpoints) override;
  Status SetCheckpointAtTimestamp(const CheckpointOwner& owner, const StreamName& stream,
                                  const ShardId& shard, int64_t timestamp_ms) override;
  Result<Checkpoint> GetCheckpoint(const CheckpointOwner& owner, const StreamName& stream,
                                   const ShardId& shard) const override;
  std::vector<Checkpoint> ListCheckpoints(const CheckpointOwner& owner) const override;

  const std::string& IteratorSecret() const override { return secret_; }
  Status Health() const override;
  StoreStats Stats() const override;

 private:
  StoreImpl(const StoreOptions& options, const StoreHooks& hooks);

  // store_open.cc
  Status OpenDb();
  Status LoadOrCreateMeta();
  Status LoadStreams();
  Status RecoverShard(ShardState& shard);
  Status LoadShards(const proto::Stream& meta, StreamState& stream);
  Status FinishDeletion(const proto::Stream& stream);
  // How DescribeStream shows a stream being deleted or deleted less than status_delay ago;
  // nullopt when it is neither.
  std::optional<StreamInfo> DescribeDeleting(const std::string& name) const;
  // CREATING, UPDATING or ACTIVE (the stream is not deleted).
  StreamStatus StatusOf(const StreamState& stream) const;

  // streams.cc
  std::shared_ptr<StreamState> FindStream(const std::string& name) const;
  Result<ShardState*> FindShard(const StreamName& stream, const ShardId& shard,
                                std::shared_ptr<StreamState>* holder) const;
  // The stream's meta record from `table`; `trims` (by shard number, when not empty) replaces
  // the shards' trim offsets, and shards with `removed` set are left out.
  static proto::Stream ToProto(const StreamState& stream, const ShardTable& table,
                               const std::vector<uint64_t>& trims, proto::Stream::Status status);
  static proto::Stream ToProto(const StreamState& stream, const std::vector<uint64_t>& trims,
                               proto::Stream::Status status) {
    return ToProto(stream, stream.table(), trims, status);
  }
  static void ShardToProto(const ShardState& shard, uint64_t trim, proto::Shard* out);

  // reshard.cc
  // Checks and runs one reshard of `name`: `plan` works it out from the open shards (under the
  // stream's meta_mu), then the writer commits it (ApplyReshard).
  template <typename PlanFn>
  Status Reshard(const StreamName& name, bool scaling, PlanFn&& plan);
  Status ApplyReshard(StreamState& stream, const ReshardPlan& plan);
  // Runs `task` on the writer thread in queue order (see PendingAppend::task).
  Status RunOnWriter(std::function<Status()> task);
  Status DeleteStreamData(const proto::Stream& stream);
  // The stream's attributes as stored under attrs/<name> (stream_attributes.cc).
  static proto::StreamAttributes AttributesToProto(const StreamAttributes& attributes);
  static StreamAttributes AttributesFromProto(const proto::StreamAttributes& stored);
  Status LoadAttributes(StreamState& stream);
  Status LoadAccountSettings();

  // write_path.cc
  void WriterLoop();
  void CommitGroup(std::vector<PendingAppend>& group);
  // Completes every append of the group with `status` (a refusal; nothing was written).
  static void Refuse(std::vector<PendingAppend>& group, const Status& status);
  Status WriteGroup(std::vector<PendingAppend>& group, std::vector<ShardState*>& touched);
  void Enqueue(PendingAppend pending);
  // Blocks until every append queued before the call has completed.
  void WaitForWriter();

  // read_path.cc
  // Arrival time of one stored record; NotFound when it is not (or no longer) stored.
  Result<int64_t> ArrivalAt(const ShardState& shard, uint64_t offset) const;
  // First offset in [trim_offset, last_offset + 1] whose arrival >= ts (last + 1 when none).
  Result<uint64_t> FirstOffsetAtOrAfter(const ShardState& shard, int64_t ts) const;
  // Sets shard_end and the children when a read of closed `shard` ended past its last record.
  static void MarkShardEnd(const StreamState& stream, const ShardState& shard,
                           ReadSummary* summary);

  // retention.cc
  void TrimmerLoop();
  // Warns when the wall clock at open is behind the newest stored arrival time.
  void CheckClockAtOpen();
  Result<uint64_t> TrimStream(StreamState& stream, int64_t cutoff_ms);
  // Closed shards of `stream` whose records are all trimmed and which closed before cutoff_ms.
  std::vector<uint32_t> ExpiredClosedShards(const StreamState& stream, const ShardTable& table,
                                            const std::vector<uint64_t>& trims,
                                            int64_t cutoff_ms) const;

  // checkpoints.cc
  Status WriteCheckpoint(std::string_view application, StreamState& stream, const ShardState& shard,
                         uint64_t offset);
  // The offset `sequence_number` names in `shard`, or InvalidArgument.
  Result<uint64_t> CheckpointOffset(const ShardState& shard,
                                    const SequenceNumber& sequence_number) const;

  int64_t NowMs() const { return clock_.NowMs(); }
  // Monotonic ms that keep counting during suspend (CLOCK_BOOTTIME in production).
  int64_t MonotonicMs() const { return clock_.MonotonicMs(); }
  rocksdb::WriteOptions SyncWrite() const {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return wo;
  }

  const StoreOptions options_;
  const StoreHooks hooks_;
  const Clock& clock_;  // hooks_.clock or the system clock
  std::shared_ptr<spdlog::logger> log_;

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints_cf_ = nullptr;
  std::string secret_;

  // Taken alone (never with another lock held): the account record and its writes.
  mutable std::mutex account_mu_;
  AccountSettings account_;  // GUARDED_BY(account_mu_)

  mutable std::shared_mutex streams_mu_;
  std::map<std::string, std::shared_ptr<StreamState>> streams_;  // GUARDED_BY(streams_mu_)
  DeletingStreams deleting_;   // GUARDED_BY(streams_mu_): deleted, still shown DELETING
  uint64_t total_shards_ = 0;  // GUARDED_BY(streams_mu_): open shards of every stream
  uint64_t next_uid_ = 1;      // GUARDED_BY(streams_mu_)

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingAppend> queue_;  // GUARDED_BY(queue_mu_)
  size_t queued_bytes_ = 0;          // GUARDED_BY(queue_mu_): sum of queue_[i].bytes
  bool stopping_ = false;            // GUARDED_BY(queue_mu_)
  Status sticky_error_;              // GUARDED_BY(queue_mu_)
  std::thread writer_;
  // Writer thread only: reused per group to avoid per-record allocations.
  rocksdb::WriteBatch batch_;
  std::string value_prefix_;
  std::string value_suffix_;
  // Written by the writer thread, read by Stats() from any thread.
  std::atomic<uint64_t> group_commits_{0};
  std::atomic<uint64_t> committed_records_{0};
  std::atomic<uint64_t> commit_nanos_{0};
  std::array<std::atomic<uint64_t>, StoreStats::kCommitBuckets.size() + 1> commit_buckets_{};
  // Appends refused by backpressure (queue full) and for lack of disk space; any thread.
  std::atomic<uint64_t> throttled_appends_{0};
  std::atomic<uint64_t> low_disk_refusals_{0};
  std::unique_ptr<DiskSpaceGuard> disk_;  // set by Open before the writer starts

  // Anchored by Open before the threads start.
  std::unique_ptr<RetentionClock> retention_clock_;

  // Readers waiting for new records (WaitForRecords): the writer notifies after publishing each
  // durable group (NotifyCommitted); WakeWaiters bumps wake_epoch_ to end every wait.
  mutable std::mutex commit_mu_;
  mutable std::condition_variable commit_cv_;
  mutable uint64_t wake_epoch_ = 0;  // GUARDED_BY(commit_mu_)
  // The asynchronous waiters (Store::AddCommitObserver); its own leaf lock.
  mutable CommitObservers observers_;
  // Writer thread only: the uids of the shards a group commit extended, reused per group.
  std::vector<ShardUid> touched_uids_;

  std::mutex trim_mu_;
  std::condition_variable trim_cv_;
  bool trim_stop_ = false;  // GUARDED_BY(trim_mu_)
  std::thread trimmer_;
};

// The RocksDB layout (store_options.cc).
Status BuildRocksDbOptions(const StoreOptions& options, rocksdb::DBOptions* db,
                           std::vector<rocksdb::ColumnFamilyDescriptor>* cfs);
std::shared_ptr<spdlog::logger> StorageLogger();
Status FromRocks(const rocksdb::Status& s, std::string_view what);

}  // namespace tideline::storage
