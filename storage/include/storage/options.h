// Options of the stream store. Validated once by Store::Open. The clock, the free-space reading
// and write faults are not options: tests pass them as StoreHooks (hooks.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"
#include "common/types.h"

namespace tideline::storage {

enum class Durability {
  // Every acknowledged append was written to the WAL and fsynced (WriteOptions::sync = true).
  kFsync,
  // Acknowledged after the WAL write reached the OS, without fsync. Loses recent records on
  // power failure. For benchmarks only; the store logs a warning at open.
  kNone,
};

struct StoreOptions {
  // What the configuration file's storage section accepts, in its units (cli/src/config.cc reads
  // these). ValidateStoreOptions checks the same bounds in the options' own units, from 1 byte or
  // 1 ms up, so that tests may use tiny values the file does not offer.
  static constexpr IntRange kShardLimit{1, 100'000};
  static constexpr IntRange kTrimIntervalSeconds{1, 86'400};
  static constexpr IntRange kBlockCacheMib{1, 65'536};
  static constexpr IntRange kMinFreeMib{0, 1'048'576};
  static constexpr IntRange kMaxQueuedAppendMib{1, 4'096};
  static constexpr IntRange kReshardUpdatingDelayMs{0, 600'000};
  static constexpr IntRange kStatusDelayMs{0, 60'000};

  // Directory holding the RocksDB instance and the iterator key. Created if missing.
  // Default: ./data
  std::filesystem::path data_dir = "./data";

  // Default: kFsync
  Durability durability = Durability::kFsync;

  // Most shards all streams together may have; CreateStream beyond it is LimitExceeded.
  // kShardLimit. Default: 500 (Kinesis's default account shard quota in us-east-1).
  uint32_t shard_limit = 500;

  // Most bytes of record data one group commit gathers into a single WriteBatch.
  // Default: 16 MiB
  size_t max_group_commit_bytes = 16u << 20;

  // Appends are refused (Status::Unavailable, retryable; HTTP 503 ServiceUnavailable at the API)
  // while the file system holding data_dir has fewer free bytes than this, so that RocksDB never
  // meets ENOSPC: the room left lets it flush the memtables it holds (3 x 32 MiB of records),
  // finish a compaction of keys, and keep writing checkpoints and stream changes, which are not
  // refused. Appends are accepted again, without a restart, once space returns. The free space
  // is read with statvfs at most every 100 ms (and sooner after many bytes were committed),
  // never per record. 0 disables the check.
  // Default: 256 MiB (memtables to flush + an L0 -> L1 compaction + headroom for the group
  // commits in flight between two readings)
  uint64_t min_free_bytes = 256u << 20;

  // Most bytes of record data (data + partition keys) that may wait in the writer's queue. An
  // append that would go past it completes at once with Status::Throttled (retryable; HTTP 400
  // ProvisionedThroughputExceededException, which SDKs retry with backoff) instead of queueing,
  // so a producer faster than the disk meets backpressure rather than unbounded memory. One
  // append larger than the bound is still accepted into an empty queue. The group being written
  // (max_group_commit_bytes) is not counted: memory held is at most the sum of the two.
  // Default: 64 MiB (four full group commits, about half a second of ingest at 120 MB/s)
  size_t max_queued_append_bytes = 64u << 20;

  // How often the trimmer looks for records past their stream's retention.
  // Default: 60 s
  std::chrono::milliseconds trim_interval{60'000};

  // How long a stream stays UPDATING after a reshard (SplitShard, MergeShards,
  // UpdateShardCount), which itself completes at once. Kinesis takes seconds to minutes, and
  // scripts written for it wait for ACTIVE (`aws kinesis wait stream-exists`, or polling
  // DescribeStreamSummary) before the next reshard; the SDK waiter's first poll is immediate,
  // so a short window is never waited for in practice while still showing UPDATING to a
  // caller that looks right away. A reshard inside the window is ResourceInUse, as on Kinesis.
  // Measured on the store's clock (StoreHooks::clock), so tests can step it; 0 disables.
  // kReshardUpdatingDelayMs. Default: 500 ms
  std::chrono::milliseconds reshard_updating_delay{500};

  // How long a new stream is CREATING and a deleted one DELETING (Store::CreateStream,
  // DeleteStream); both take effect at once, and a restart ends either state. Kinesis takes
  // seconds for each, and scripts and SDK waiters (stream_exists, stream_not_exists) wait them
  // out. The configuration file sets it with server.status_delay_ms, the one delay of stream and
  // consumer states. Measured on the store's clock (StoreHooks::clock); 0 disables.
  // kStatusDelayMs. Default: 500 ms
  std::chrono::milliseconds status_delay{500};

  // RocksDB block cache for record and index blocks.
  // Default: 64 MiB
  size_t block_cache_bytes = 64u << 20;

  // RocksDB option strings applied on top of the store's tuned layout (storage/FORMAT.md), in
  // RocksDB's "key=value;key=value" syntax, for the `records` column family and the DB. For
  // benchmarks and operators who measured something better; a bad string fails Open.
  // Default: empty (the layout in FORMAT.md)
  std::string records_cf_options_override;
  std::string db_options_override;
};

// InvalidArgument naming the first option that cannot work, as the configuration file names it
// where it has a key ("shard_limit: expected an integer in 1..100000, got 0"). Store::Open and
// Store::OpenInMemory call it.
Status ValidateStoreOptions(const StoreOptions& options);

}  // namespace tideline::storage
