// The durable stream store: streams of shards of records in one RocksDB instance.
//
// Thread safety: every method may be called concurrently from any thread. Appends are
// serialised by a single writer thread (group commit); reads never wait for it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "storage/hash_key.h"
#include "storage/hooks.h"
#include "storage/options.h"
#include "storage/sequence_number.h"
#include "storage/stream_attributes.h"

namespace tideline::storage {

inline constexpr int kMinRetentionHours = 24;
inline constexpr int kMaxRetentionHours = 8760;
// Kinesis's default quotas for UpdateShardCount: open shards a scaling may reach, and scalings
// per stream in a rolling 24 hours.
inline constexpr uint32_t kMaxUpdateShardCount = 10'000;
inline constexpr int kMaxScalingsPerDay = 10;

struct ShardInfo {
  ShardId id;
  // Sequence numbers of this shard: SequenceNumberOf(uid, offset), OffsetInShard(uid, seq).
  ShardUid uid{0};
  HashKeyRange hash_range{};
  // Sequence number of offset 1 (what DescribeStream reports as StartingSequenceNumber).
  SequenceNumber starting_sequence_number;
  // Lowest offset still stored (retention moves it) and highest offset written; an empty shard
  // has last_offset == trim_offset - 1.
  Offset trim_offset{1};
  Offset last_offset{0};
  // Lineage: the shard this one was split from (or the first shard of the merge that made it)
  // and the merge's other shard; empty for shards made with the stream.
  std::string parent_shard_id;
  std::string adjacent_parent_shard_id;
  // A closed shard (a reshard replaced it) takes no more records; its last record is
  // ending_offset (0 when it closed empty), named by ending_sequence_number.
  bool closed = false;
  Offset ending_offset{0};
  SequenceNumber ending_sequence_number;
  int64_t created_ms = 0;  // wall clock, ms since the Unix epoch
  int64_t closed_ms = 0;   // when closed; 0 while open
};

// Kinesis's StreamStatus. Creation and deletion are durable at once; CREATING and DELETING only
// delay what callers see, for StoreOptions::status_delay, as Kinesis takes a while for both:
// the durable state decides after a restart (a stream created is ACTIVE, one being deleted is
// gone). The store itself refuses nothing for CREATING (its readers may use the stream at once);
// which operations a state refuses is the API's business.
enum class StreamStatus {
  kCreating,  // created less than StoreOptions::status_delay ago
  kActive,
  kUpdating,  // a reshard ran less than StoreOptions::reshard_updating_delay ago
  kDeleting,  // being deleted, or deleted less than StoreOptions::status_delay ago
};

struct StreamInfo {
  StreamName name;
  uint64_t uid = 0;
  int64_t created_ms = 0;
  int retention_hours = kMinRetentionHours;
  StreamStatus status = StreamStatus::kActive;
  // Every shard still kept, open and closed, in shard id order. Open shards' hash-key ranges
  // cover [0, 2^128 - 1] exactly once.
  std::vector<ShardInfo> shards;
  size_t OpenShardCount() const;
};

// A shard a closed shard's records continue in (GetRecords' ChildShards).
struct ChildShard {
  ShardId id;
  std::vector<ShardId> parents;  // one for a split, two for a merge
  HashKeyRange hash_range{};
};

// UpdateShardCount's ScalingType; Kinesis has only this one.
enum class ScalingType { kUniformScaling };

// One record to append. The views must stay valid until the append's callback runs.
struct AppendRecord {
  std::string_view partition_key;
  // Decimal ExplicitHashKey as the producer sent it, or empty. Already validated by the caller
  // is not assumed: a malformed one fails the whole append with InvalidArgument.
  std::string_view explicit_hash_key;
  std::string_view data;
};

struct AppendedRecord {
  ShardId shard_id;
  SequenceNumber sequence_number;
};

// Called exactly once: on the writer thread, or inline on the calling thread (errors found
// before queueing, and every append of the in-memory store). Keep it short: post real work
// elsewhere, and do not wait in it for another append.
using AppendCallback = std::function<void(Result<std::vector<AppendedRecord>>)>;

// A stored record as the read path hands it out. Views are valid only during the visit call.
struct RecordView {
  Offset offset;
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty when none was given
  std::string_view data;
  int64_t arrival_ms = 0;
};

struct ReadLimits {
  size_t max_records = 10'000;
  size_t max_bytes = 10u << 20;  // sum of data + partition key sizes
};

struct ReadSummary {
  size_t records = 0;
  size_t bytes = 0;
  // Offset to continue from: one past the last record visited, or `from` moved up to the trim
  // horizon when the records it named were trimmed.
  Offset next{1};
  Offset last_offset{0};        // highest offset in the shard when the read ran
  int64_t last_arrival_ms = 0;  // arrival time of that record; 0 when the shard is empty
  // The shard is closed and `next` is past its last record: nothing more will ever be read
  // from it, and its records continue in `children`.
  bool shard_end = false;
  std::vector<ChildShard> children;  // set when shard_end
};

// Kinesis's ShardIteratorType.
enum class StartingPosition {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp,
};

// "TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP".
std::string_view StartingPositionName(StartingPosition position);
// The inverse; nullopt for any other spelling.
std::optional<StartingPosition> ParseStartingPosition(std::string_view name);

// Where a read starts, as Kinesis says it: the iterator type and the value it needs. The one
// vocabulary for the API's shard iterators, a pipeline's starting point and a pipeline reset.
struct StreamPosition {
  StartingPosition type = StartingPosition::kTrimHorizon;
  // AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER: the record's sequence number.
  std::string sequence_number;
  // AT_TIMESTAMP: ms since the Unix epoch; the first record that arrived at or after it.
  int64_t timestamp_ms = 0;

  static StreamPosition TrimHorizon() { return {StartingPosition::kTrimHorizon, {}, 0}; }
  static StreamPosition Latest() { return {StartingPosition::kLatest, {}, 0}; }
  static StreamPosition AtSequenceNumber(std::string seq) {
    return {StartingPosition::kAtSequenceNumber, std::move(seq), 0};
  }
  static StreamPosition AfterSequenceNumber(std::string seq) {
    return {StartingPosition::kAfterSequenceNumber, std::move(seq), 0};
  }
  static StreamPosition AtTimestamp(int64_t ms) { return {StartingPosition::kAtTimestamp, {}, ms}; }
  bool operator==(const StreamPosition&) const = default;
};

struct Checkpoint {
  CheckpointOwner application;
  StreamName stream;
  ShardId shard;
  // Every record at or below `offset` has been handled. Offset 0 means none has.
  SequenceNumber sequence_number;
  Offset offset{0};
  int64_t updated_ms = 0;
};

// How the write path and RocksDB are doing, for monitoring (GET /metrics).
struct StoreStats {
  // Upper bounds in seconds of the group-commit duration buckets; one more bucket, +Inf, follows.
  static constexpr std::array<double, 10> kCommitBuckets{0.0005, 0.001, 0.002, 0.005, 0.01,
                                                         0.025,  0.05,  0.1,   0.25,  1.0};
  uint64_t group_commits = 0;      // successful group commits (one write and one fsync each)
  uint64_t committed_records = 0;  // records in them
  double commit_seconds = 0;       // their total duration: write, fsync and memtable insert
  std::array<uint64_t, kCommitBuckets.size() + 1> commit_buckets{};  // per bucket, not cumulative
  // Backpressure and disk space (StoreOptions::max_queued_append_bytes, min_free_bytes).
  uint64_t queued_append_bytes = 0;  // record bytes waiting for the writer now
  uint64_t throttled_appends = 0;    // appends refused because the queue was full
  uint64_t low_disk_refusals = 0;    // appends refused for lack of free disk space
  // Free bytes of the data directory's file system at the last reading (statvfs f_bavail),
  // at most ~100 ms old; 0 before the first reading or when the check is disabled.
  uint64_t disk_free_bytes = 0;
  bool low_disk = false;  // appends are being refused for lack of space
  // The records column family, as RocksDB reports it.
  uint64_t l0_files = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t delayed_write_rate = 0;  // bytes/s writes are slowed to; 0 when they are not
  bool write_stopped = false;
};

class Store {
 public:
  // Opens (creating if needed) the store in options.data_dir. Fails with a clear message when
  // another process holds the directory. Recovers exactly the records whose append was
  // acknowledged and the last synced checkpoints. `hooks` replace the clock, the free-space
  // reading and write faults (tests and drills); production passes none.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options,
                                             const StoreHooks& hooks = {});
  // A store with the same contract held in memory only: nothing touches disk, and everything
  // is gone when it is destroyed (so "acknowledged" means stored in this process). For tests
  // of the code above storage and of the Store contract itself. Of `options` only shard_limit
  // and trim_interval apply; of `hooks` all but free_bytes (there is no disk to measure).
  // Appends complete inline on the calling thread;
  // there is no append queue, so no Throttled and no disk-space refusal, and Stats() reports
  // only the commit counters.
  static Result<std::unique_ptr<Store>> OpenInMemory(const StoreOptions& options = {},
                                                     const StoreHooks& hooks = {});

  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- Streams. Each returns after the change is durable (sync write).
  // AlreadyExists (server maps it to ResourceInUse), LimitExceeded when the store-wide shard
  // limit would be passed; shard_count must be in 1..100000 (InvalidArgument otherwise).
  // Creates the stream with `attributes` (tags, mode, ...) stored atomically with it. `name` is
  // a stream name or a region-qualified one, "<region>:<name>" (common/regional_stream.h).
  virtual Status CreateStream(const StreamName& name, uint32_t shard_count,
                              const StreamAttributes& attributes) = 0;
  Status CreateStream(const StreamName& name, uint32_t shard_count) {
    return CreateStream(name, shard_count, StreamAttributes{});
  }
  // The stream is CREATING (StreamStatus) for StoreOptions::status_delay, then ACTIVE; a name
  // that is taken, DELETING included, is AlreadyExists.
  //
  // Removes the stream with its records, attributes and checkpoints (durably, as one deletion
  // that a restart completes if it was cut short); NotFound when it does not exist or is already
  // DELETING. From the call on, appends, reads and checkpoints of the stream fail with NotFound;
  // for StoreOptions::status_delay after it returns the stream is still listed and described,
  // DELETING and without shards, and its name cannot be taken.
  virtual Status DeleteStream(const StreamName& name) = 0;
  // Names in lexicographic order, starting after `exclusive_start` (empty: from the first),
  // DELETING streams included.
  virtual std::vector<StreamName> ListStreams(std::string_view exclusive_start,
                                              size_t limit) const = 0;
  // A DELETING stream is described with its name, uid, creation time, retention and no shards.
  virtual Result<StreamInfo> DescribeStream(const StreamName& name) const = 0;
  // The stream's status alone, without copying its shards (for the API's per-request checks).
  // NotFound as DescribeStream.
  virtual Result<StreamStatus> GetStreamStatus(const StreamName& name) const = 0;
  // hours in kMinRetentionHours..kMaxRetentionHours; policy (increase vs decrease) is the API's.
  virtual Status SetRetentionHours(const StreamName& name, int hours) = 0;

  virtual Result<StreamAttributes> GetStreamAttributes(const StreamName& name) const = 0;
  // Runs `update` on the stream's current attributes, serialised with every other change of
  // them, and stores the result durably (synced) before returning OK. An error from `update`
  // is returned and leaves the attributes as they were; so does a failed write. NotFound when
  // the stream does not exist or is being deleted. `update` must not call into the store.
  using AttributesUpdate = std::function<Status(StreamAttributes&)>;
  virtual Status UpdateStreamAttributes(const StreamName& name, const AttributesUpdate& update) = 0;

  // ---- Account settings: one record per store, the defaults until first updated.
  virtual AccountSettings GetAccountSettings() const = 0;
  // As UpdateStreamAttributes, for the account record: `update` runs serialised with every
  // other update of it; its error, or a failed write, leaves the record as it was.
  using AccountSettingsUpdate = std::function<Status(AccountSettings&)>;
  virtual Status UpdateAccountSettings(const AccountSettingsUpdate& update) = 0;

  // ---- Resharding (Kinesis SplitShard, MergeShards, UpdateShardCount). Each closes shards and
  // makes new ones (shard ids keep counting up, sequence numbers of a child are greater than
  // any of its parents') in one synced write ordered with the appends by the writer: an append
  // acknowledged before it is in a parent, at or below the parent's ending offset; one after it
  // is in a child; a record is never in both. Appends routed to a parent but not yet written
  // when the reshard commits are written to the child that now owns their hash key. The stream
  // is then UPDATING for StoreOptions::reshard_updating_delay; another reshard meanwhile (or
  // concurrently) is ResourceInUse. NotFound for an unknown stream or shard; LimitExceeded when
  // the store-wide limit of open shards (shard_limit) would be passed.
  //
  // Splits open `shard` in two at `new_starting_hash_key`, which must lie strictly inside it:
  // greater than its starting key + 1 and less than its ending key (InvalidArgument otherwise,
  // or when the shard is closed). Children: [start, new - 1] and [new, end].
  virtual Status SplitShard(const StreamName& stream, const ShardId& shard,
                            HashKey new_starting_hash_key) = 0;
  // Merges two open shards whose ranges are adjacent into one child whose parent is `shard`
  // and adjacent parent `adjacent_shard` (InvalidArgument when not adjacent, equal or closed).
  virtual Status MergeShards(const StreamName& stream, const ShardId& shard,
                             const ShardId& adjacent_shard) = 0;
  // Splits and merges until the stream has `target` open shards of even ranges (the
  // intermediate shards this makes are closed in the same write, as Kinesis's short-lived
  // shards). LimitExceeded when target is above twice or below half the open shards, above
  // kMaxUpdateShardCount, or this is the stream's 11th scaling in 24 hours; InvalidArgument for
  // target 0. A target equal to the open shard count changes nothing.
  struct ShardCountChange {
    uint32_t current = 0;  // open shards before
    uint32_t target = 0;
  };
  virtual Result<ShardCountChange> UpdateShardCount(const StreamName& stream, uint32_t target,
                                                    ScalingType scaling) = 0;

  // ---- Appends (group commit).
  // Routes each record to its shard and queues the batch for the writer. The callback receives
  // the sequence numbers, in input order, only after the WriteBatch holding them was written
  // with the store's durability (fsynced by default). All records of one call are committed
  // atomically, and per shard in input order. After a failed write the store refuses every
  // further append with that IOError (sticky) until reopened. Refusals that are not sticky and
  // may pass on retry: Throttled when the writer's queue is full (max_queued_append_bytes),
  // Unavailable while free disk space is below min_free_bytes or the store is closing.
  virtual void AppendAsync(const StreamName& stream, std::span<const AppendRecord> records,
                           AppendCallback done) = 0;
  // Blocking form of AppendAsync.
  Result<std::vector<AppendedRecord>> Append(const StreamName& stream,
                                             std::span<const AppendRecord> records);

  // ---- Reads. Never block on the writer; see only acknowledged records.
  // Offset of the first record to read for the position (may be last_offset + 1).
  // AT/AFTER_SEQUENCE_NUMBER: InvalidArgument when the sequence number is malformed, belongs to
  // another shard, or was never issued. AT_TIMESTAMP: first record with arrival >= timestamp.
  virtual Result<Offset> ResolvePosition(const StreamName& stream, const ShardId& shard,
                                         const StreamPosition& position) const = 0;
  // Visits records from `from` (moved up to the trim horizon if older) in offset order until a
  // limit is reached; a record is always returned whole, and at least one when any exists.
  virtual Result<ReadSummary> Read(const StreamName& stream, const ShardId& shard, Offset from,
                                   const ReadLimits& limits,
                                   const std::function<void(const RecordView&)>& visit) const = 0;

  // Blocks until the shard holds a record above `after`, `timeout` passes, the shard is closed,
  // or WakeWaiters() is called, and returns the shard's last acknowledged offset (which may still
  // be <= after). Woken by every group commit, so a reader tails a shard without polling. NotFound
  // when the stream or shard does not exist (or was deleted).
  virtual Result<Offset> WaitForRecords(const StreamName& stream, const ShardId& shard,
                                        Offset after, std::chrono::milliseconds timeout) const = 0;
  // Wakes every WaitForRecords call now (they return early), e.g. so readers see a stop flag.
  virtual void WakeWaiters() const = 0;

  // ---- Commit observers: the asynchronous form of WaitForRecords, for readers that wait
  // without a thread of their own (SubscribeToShard). An observer is called whenever a
  // WaitForRecords call would wake:
  //   - after each durable group commit, with the uids of the shards it added records to, once
  //     those records are visible to Read and before any append of the group is acknowledged;
  //   - with an empty span after a reshard (parents closed, children readable), after a
  //     stream's deletion has begun (its reads fail with NotFound), and on WakeWaiters(): each
  //     reader should look at its shard again.
  // It runs on the thread that made the change (the writer thread, or the caller of the append,
  // reshard or deletion) with no store lock held but the observer list's own, so it must be
  // short: note the change and hand real work to another thread. It may call Read and the other
  // read methods; it must not call AddCommitObserver, RemoveCommitObserver, or anything that
  // waits for an append, reshard or deletion. Observers may be called concurrently with each
  // other and with themselves (the in-memory store commits on its callers' threads).
  using CommitObserver = std::function<void(std::span<const ShardUid> shards)>;
  // Registers `observer` and returns its id (never 0).
  virtual uint64_t AddCommitObserver(CommitObserver observer) const = 0;
  // Once this returns the observer is not running and is never called again. Unknown ids are
  // ignored. Must not be called from an observer.
  virtual void RemoveCommitObserver(uint64_t id) const = 0;

  // ---- Retention. Removes records older than each stream's retention (or
  // StoreHooks::retention_override). Runs periodically in the background; callable directly.
  // Returns records removed.
  virtual Result<uint64_t> TrimExpired() = 0;

  // ---- Checkpoints: (application, stream, shard) -> last handled position. Written with sync.
  // InvalidArgument for a sequence number that does not belong to the shard.
  virtual Status SetCheckpoint(const CheckpointOwner& owner, const StreamName& stream,
                               const ShardId& shard, const SequenceNumber& sequence_number) = 0;
  // Sets several shards' checkpoints of one stream in one synced write: all or none. Each
  // sequence number must belong to its shard, as for SetCheckpoint.
  struct ShardCheckpoint {
    ShardId shard;
    SequenceNumber sequence_number;
  };
  virtual Status SetCheckpoints(const CheckpointOwner& owner, const StreamName& stream,
                                std::span<const ShardCheckpoint> checkpoints) = 0;
  // Moves the checkpoint so that the next record handled is the first with arrival >= ts.
  virtual Status SetCheckpointAtTimestamp(const CheckpointOwner& owner, const StreamName& stream,
                                          const ShardId& shard, int64_t timestamp_ms) = 0;
  // NotFound when none was set.
  virtual Result<Checkpoint> GetCheckpoint(const CheckpointOwner& owner, const StreamName& stream,
                                           const ShardId& shard) const = 0;
  // Every checkpoint, or those of one application when it is not empty.
  virtual std::vector<Checkpoint> ListCheckpoints(const CheckpointOwner& owner) const = 0;

  // ---- Misc.
  // 32 random bytes created with the store and kept in it: the iterator HMAC key.
  virtual const std::string& IteratorSecret() const = 0;
  // OK, or the sticky write error. Low disk space is not reported here (it is not sticky and
  // reads still work); see Stats().low_disk.
  virtual Status Health() const = 0;
  virtual StoreStats Stats() const = 0;
  // Open shards the store holds at most across its streams (StoreOptions::shard_limit).
  virtual uint32_t ShardLimit() const = 0;

 protected:
  Store() = default;
};

}  // namespace tideline::storage
