// Kinesis's per-shard throughput limits, optional (server.throughput_limits, off by default) so
// that producers and consumers can exercise their retry logic against a local server.
//
// Each shard has token buckets that hold one second's worth of their rate (AWS's burst):
//   writes  records/s and bytes/s (data + partition key), checked per record before the append;
//   reads   GetRecords calls/s, and bytes/s charged after the read: one call may return up to
//           10 MiB and the bucket then stays in debt, refusing calls until it has refilled;
//   GetShardIterator calls/s.
// Buckets are found by stream name and shard id; a shard made by a reshard gets its own, and
// shards a reshard leaves alone keep theirs.
//
// Thread safety: every method may be called from any thread. Buckets are lock-free (one atomic
// each); the stream table is behind a shared_mutex taken once per request, exclusively only
// when a stream's shards are (re)loaded.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "server/options.h"
#include "storage/hash_key.h"
#include "storage/store.h"

namespace tideline::server {

// A token bucket as a generic cell rate algorithm: one atomic "theoretical arrival time" in
// nanoseconds of the monotonic clock. The bucket is full when tat <= now; taking n units moves
// tat by n / rate seconds; it holds at most one second's worth (tat - now <= 1 s) except after
// Charge, which may put it in debt (tat - now > 1 s).
class TokenBucket {
 public:
  static constexpr int64_t kBurstNs = 1'000'000'000;  // one second's worth of the rate

  explicit TokenBucket(int64_t rate_per_sec = 1) : rate_(rate_per_sec > 0 ? rate_per_sec : 1) {}
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes `units` if the bucket holds them; otherwise takes nothing and returns false. More
  // units than one second's worth never pass.
  bool TryTake(int64_t units, int64_t now_ns);
  // Gives back units taken by TryTake (a record admitted by one bucket and refused by another).
  void Refund(int64_t units);
  // Takes `units` whatever the bucket holds: it may go into debt.
  void Charge(int64_t units, int64_t now_ns);
  // True when the bucket holds anything (is neither empty nor in debt).
  bool HasCredit(int64_t now_ns) const;
  // Whole units held now; negative when in debt.
  int64_t Available(int64_t now_ns) const;

 private:
  int64_t CostNs(int64_t units) const;

  const int64_t rate_;
  std::atomic<int64_t> tat_ns_{0};
};

// The buckets of one shard, sized from ThroughputLimits.
struct ShardBuckets {
  explicit ShardBuckets(const ThroughputLimits& limits)
      : write_records(limits.write_records_per_sec),
        write_bytes(limits.write_bytes_per_sec),
        read_calls(limits.reads_per_sec),
        read_bytes(limits.read_bytes_per_sec),
        iterator_calls(limits.shard_iterators_per_sec) {}

  // One record of `bytes` (data + partition key): both buckets or neither.
  bool TryWrite(int64_t bytes, int64_t now_ns);
  // A GetRecords call: refused while the read bytes are in debt or the call rate is spent.
  bool TryRead(int64_t now_ns);

  TokenBucket write_records;
  TokenBucket write_bytes;
  TokenBucket read_calls;
  TokenBucket read_bytes;
  TokenBucket iterator_calls;
};

// A stream's shards as the limiter knows them: immutable once made.
struct StreamShards {
  struct Route {
    HashKeyRange range;
    const std::string* shard_id;  // points into `shards`
    ShardBuckets* buckets;
  };
  uint64_t stream_uid = 0;
  std::vector<Route> open;  // open shards by range start, for routing records
  std::map<std::string, std::shared_ptr<ShardBuckets>, std::less<>> shards;  // open and closed
  // Set when a reshard (or an append answered from another shard) shows the table is old.
  mutable std::atomic<bool> stale{false};

  // The open shard owning `key`; null when none does (a table from before a reshard).
  const Route* RouteOf(HashKey key) const;
  ShardBuckets* Find(std::string_view shard_id) const;
};

class ThroughputLimiter {
 public:
  ThroughputLimiter(const ThroughputLimits& limits, const Clock& clock)
      : limits_(limits), clock_(clock) {}

  // Now on the monotonic clock, in the buckets' unit.
  int64_t NowNs() const { return clock_.MonotonicMs() * 1'000'000; }

  // The stream's shards for routing appends, loaded from the store on first use and after
  // Invalidate. Null when the stream does not exist (the append reports that).
  std::shared_ptr<const StreamShards> ForWrites(const StreamName& stream, storage::Store& store);
  // The buckets of `shard` of the stream described by `info` (read by the caller already).
  // Never null: `info` must hold the shard.
  std::shared_ptr<ShardBuckets> ForShard(const storage::StreamInfo& info, std::string_view shard);

  // The stream's shards changed (reshard): reload them on next use, keeping the buckets of the
  // shards that remain.
  void Invalidate(std::string_view stream);
  // The stream is gone: a stream created with its name starts with full buckets.
  void Forget(std::string_view stream);

 private:
  std::shared_ptr<const StreamShards> Load(const storage::StreamInfo& info);

  const ThroughputLimits limits_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const StreamShards>, std::less<>>
      streams_;  // GUARDED_BY(mu_)
};

// The messages Kinesis sends with ProvisionedThroughputExceededException.
// PutRecord, PutRecords entries (and GetShardIterator, whose wording is a guess):
// "Rate exceeded for shard shardId-000000000001 in stream S under account A."
std::string WriteThrottledMessage(std::string_view shard, std::string_view stream,
                                  std::string_view account);
// GetRecords: "Rate exceeded for Shard - A/S/shardId-000000000001"
std::string ReadThrottledMessage(std::string_view shard, std::string_view stream,
                                 std::string_view account);

}  // namespace tideline::server
