// The RocksDB layout of the store: options chosen by measurement (storage/FORMAT.md, "Options").
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_partitioner.h>
#include <rocksdb/table.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "store_impl.h"

namespace tideline::storage {

std::shared_ptr<spdlog::logger> StorageLogger() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = spdlog::get("storage")) return existing;
  return spdlog::stderr_color_mt("storage");
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  return Status::IOError(std::move(msg));
}

namespace {

rocksdb::ColumnFamilyOptions SmallCf(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 4u << 20;
  cf.max_write_buffer_number = 2;
  cf.compression = rocksdb::kLZ4Compression;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

// Records: 1 KiB-ish values written in key order and deleted in key order by retention.
// Values go to blob files so compaction only rewrites the small keys (see FORMAT.md).
rocksdb::ColumnFamilyOptions RecordsCf(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 32u << 20;
  cf.max_write_buffer_number = 3;
  cf.min_write_buffer_number_to_merge = 1;
  // Memtable arena blocks below tideline serve's mmap threshold (1 MiB) come from the heap and
  // are reused after a flush; at the default (1 MiB) each block was a fresh mapping whose every
  // page faulted once on the writer thread.
  cf.arena_block_size = 256u << 10;
  // Every L0 -> L1 compaction rewrites the L1 files inside the key span of its inputs, and that
  // span covers every shard, so fewer, larger compactions mean far less rewriting; with the old
  // 4 / 20 / 36 the 5-minute ingest run spent 35-40% of its time in L0 slowdown stalls.
  cf.level0_file_num_compaction_trigger = 16;
  cf.level0_slowdown_writes_trigger = 64;
  cf.level0_stop_writes_trigger = 96;
  cf.target_file_size_base = 64u << 20;
  // Each flush holds the newest keys of every shard, so an L0 -> L1 compaction rewrites nearly
  // all of L1 whatever its size. Keep L1 small: L1 -> L2 and below are trivial moves (per-shard
  // files, newer keys than anything below them), so only L1 is ever rewritten. With 256 MiB,
  // L1 overshot to 560 MB in a 5-minute run and each compaction rewrote 24 M keys.
  cf.max_bytes_for_level_base = 32u << 20;
  // The SSTs hold only keys and blob references, which prefix encoding already shrinks; LZ4 on
  // top cost most of the compaction CPU on a 2-core machine for a few MB of disk.
  cf.compression = rocksdb::kNoCompression;
  cf.enable_blob_files = true;
  cf.min_blob_size = 256;
  cf.blob_file_size = 256u << 20;
  cf.blob_compression_type = rocksdb::kNoCompression;
  // Keys start with the shard uid. Cutting flush and compaction outputs at shard boundaries
  // keeps every SST inside one shard, so L1 -> L2 can move files down without rewriting them
  // and a retention DeleteRange covers whole files.
  cf.sst_partitioner_factory = rocksdb::NewSstPartitionerFixedPrefixFactory(8);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.block_size = 16u << 10;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

}  // namespace

Status BuildRocksDbOptions(const StoreOptions& options, rocksdb::DBOptions* db,
                           std::vector<rocksdb::ColumnFamilyDescriptor>* cfs) {
  rocksdb::DBOptions base;
  base.create_if_missing = true;
  base.create_missing_column_families = true;
  base.max_background_jobs = 2;
  base.bytes_per_sync = 1u << 20;
  // Readers go through a shard in order, so blob and SST reads are sequential per reader. The
  // default (POSIX_FADV_RANDOM on every file opened) turns off the kernel's readahead, and a
  // replay of data no longer in the page cache then reads one 4 KiB page per 1 KiB record.
  base.advise_random_on_open = false;
  base.max_total_wal_size = 512u << 20;
  base.keep_log_file_num = 4;
  base.max_log_file_size = 16u << 20;
  base.max_manifest_file_size = 64u << 20;
  rocksdb::ConfigOptions config;
  config.ignore_unknown_options = false;
  auto s = rocksdb::GetDBOptionsFromString(config, base, options.db_options_override, db);
  if (!s.ok()) return Status::InvalidArgument("db_options_override: " + s.ToString());

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions records;
  s = rocksdb::GetColumnFamilyOptionsFromString(config, RecordsCf(cache),
                                                options.records_cf_options_override, &records);
  if (!s.ok()) return Status::InvalidArgument("records_cf_options_override: " + s.ToString());

  cfs->clear();
  cfs->emplace_back(rocksdb::kDefaultColumnFamilyName, SmallCf(cache));
  cfs->emplace_back("meta", SmallCf(cache));
  cfs->emplace_back("records", records);
  cfs->emplace_back("checkpoints", SmallCf(cache));
  return Status::Ok();
}

}  // namespace tideline::storage
