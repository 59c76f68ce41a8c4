// Opening the store: RocksDB, meta bootstrap, recovery of every shard's last offset.
#include <openssl/rand.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <system_error>

#include "info_log.h"
#include "keys.h"
#include "record_codec.h"
#include "reshard_plan.h"
#include "store_impl.h"

namespace tideline::storage {

StoreImpl::StoreImpl(const StoreOptions& options, const StoreHooks& hooks)
    : options_(options), hooks_(hooks), clock_(hooks_.clock_or_system()), log_(StorageLogger()) {}

StoreImpl::~StoreImpl() {
  {
    std::lock_guard<std::mutex> lock(trim_mu_);
    trim_stop_ = true;
  }
  trim_cv_.notify_all();
  if (trimmer_.joinable()) trimmer_.join();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_) {
    for (auto* cf : {default_cf_, meta_cf_, records_cf_, checkpoints_cf_}) {
      if (cf != nullptr) {
        // Destroying a handle cannot fail in a way we could act on at shutdown.
        (void)db_->DestroyColumnFamilyHandle(cf);
      }
    }
    auto s = db_->Close();
    if (!s.ok()) log_->error("closing RocksDB in {}: {}", options_.data_dir.string(), s.ToString());
  }
}

Result<std::unique_ptr<Store>> StoreImpl::Open(const StoreOptions& options,
                                               const StoreHooks& hooks) {
  TL_RETURN_IF_ERROR(ValidateStoreOptions(options));
  std::unique_ptr<StoreImpl> store(new StoreImpl(options, hooks));
  store->retention_clock_ = std::make_unique<RetentionClock>(store->clock_, store->log_);
  TL_RETURN_IF_ERROR(store->OpenDb());
  TL_RETURN_IF_ERROR(store->LoadOrCreateMeta());
  TL_RETURN_IF_ERROR(store->LoadStreams());
  TL_RETURN_IF_ERROR(store->LoadAccountSettings());
  store->CheckClockAtOpen();
  store->disk_ = std::make_unique<DiskSpaceGuard>(
      DiskSpaceGuard::Options{options.data_dir, options.min_free_bytes,
                              [s = store.get()] { return s->MonotonicMs(); }, hooks.free_bytes},
      store->log_);
  if (options.durability == Durability::kNone) {
    store->log_->warn(
        "DURABILITY IS OFF (durability=none): appends are acknowledged before fsync and "
        "recent records WILL BE LOST on power failure. Use only for benchmarks.");
  }
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  store->trimmer_ = std::thread([s = store.get()] { s->TrimmerLoop(); });
  store->log_->info("opened store in {} ({} streams)", options.data_dir.string(),
                    store->streams_.size());
  return std::unique_ptr<Store>(std::move(store));
}

Status StoreImpl::OpenDb() {
  const std::string dir = options_.data_dir.string();
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return Status::IOError("cannot create data directory " + dir + ": " + ec.message());
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  TL_RETURN_IF_ERROR(BuildRocksDbOptions(options_, &db_options, &cfs));
  // RocksDB's own LOG writer aborts the process after a failed write on a full disk
  // (info_log.h); ours drops the line instead. Same file, format and limits.
  auto info_log =
      InfoLog::Open(options_.data_dir, db_options.max_log_file_size, db_options.keep_log_file_num);
  info_log->SetInfoLogLevel(db_options.info_log_level);
  db_options.info_log = std::move(info_log);
  // Compactions only rewrite keys and blob references: they may wait, appends may not. Run
  // them at the lowest CPU priority so that a burst of compaction never takes a core away from
  // the group-commit writer or the I/O threads (PERFORMANCE.md, "The API path").
  if (auto pri = db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                            rocksdb::CpuPriority::kLow);
      !pri.ok()) {
    log_->warn("cannot lower the compaction threads' CPU priority: {}", pri.ToString());
  }
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer builds only: RocksDB (Debian's, not instrumented) lets the writer that leads
  // a write group copy the other writers' batches (a checkpoint write joining a group commit),
  // handing them over through atomics TSan cannot see, so every such join reads as a race
  // between our callers. A zero group size keeps each writer on its own batch; what the
  // sanitizer then checks is our code's synchronization, which is the point of the build.
  db_options.max_write_batch_group_size_bytes = 0;
#endif
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(db_options, dir, cfs, &handles, &db);
  if (!s.ok()) {
    const std::string text = s.ToString();
    if (s.IsIOError() &&
        (text.find("lock") != std::string::npos || text.find("LOCK") != std::string::npos)) {
      return Status::ResourceInUse("data directory " + dir +
                                   " is already in use by another tideline process (RocksDB "
                                   "LOCK held): " +
                                   text);
    }
    return FromRocks(s, "opening RocksDB in " + dir);
  }
  db_.reset(db);
  default_cf_ = handles[0];  // unused, but its handle must be destroyed like the others
  meta_cf_ = handles[1];
  records_cf_ = handles[2];
  checkpoints_cf_ = handles[3];
  return Status::Ok();
}

Status StoreImpl::LoadOrCreateMeta() {
  std::string value;
  rocksdb::WriteBatch batch;
  auto s = db_->Get({}, meta_cf_, keys::kFormatVersionKey, &value);
  if (s.ok()) {
    auto version = keys::DecodeU64(value);
    if (!version) return Status::Corruption("meta format_version is not 8 bytes");
    if (*version > keys::kFormatVersion) {
      return Status::InvalidArgument("data directory was written by a newer tideline (format " +
                                     std::to_string(*version) + ")");
    }
  } else if (s.IsNotFound()) {
    batch.Put(meta_cf_, keys::kFormatVersionKey, keys::EncodeU64(keys::kFormatVersion));
  } else {
    return FromRocks(s, "reading format version");
  }
  s = db_->Get({}, meta_cf_, keys::kIteratorSecretKey, &secret_);
  if (s.IsNotFound()) {
    secret_.assign(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), 32) != 1) {
      return Status::Internal("RAND_bytes failed to create the iterator secret");
    }
    batch.Put(meta_cf_, keys::kIteratorSecretKey, secret_);
  } else if (!s.ok()) {
    return FromRocks(s, "reading iterator secret");
  } else if (secret_.size() != 32) {
    return Status::Corruption("iterator secret is not 32 bytes");
  }
  s = db_->Get({}, meta_cf_, keys::kNextUidKey, &value);
  if (s.ok()) {
    auto next = keys::DecodeU64(value);
    if (!next) return Status::Corruption("meta next_uid is not 8 bytes");
    next_uid_ = *next;
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading next uid");
  }
  if (batch.Count() > 0) return FromRocks(db_->Write(SyncWrite(), &batch), "initialising meta");
  return Status::Ok();
}

Status StoreImpl::LoadStreams() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, meta_cf_));
  for (it->Seek(keys::kStreamPrefix); it->Valid() && it->key().starts_with(keys::kStreamPrefix);
       it->Next()) {
    proto::Stream meta;
    if (!meta.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Corruption("stream meta " + it->key().ToString() + " does not decode");
    }
    if (meta.status() == proto::Stream::DELETING) {
      log_->info("finishing interrupted deletion of stream {}", meta.name());
      TL_RETURN_IF_ERROR(FinishDeletion(meta));
      continue;
    }
    auto stream = std::make_shared<StreamState>();
    stream->name = meta.name();
    stream->uid = meta.uid();
    stream->created_ms = meta.created_ms();
    stream->retention_hours = meta.retention_hours();
    TL_RETURN_IF_ERROR(LoadShards(meta, *stream));
    TL_RETURN_IF_ERROR(LoadAttributes(*stream));
    total_shards_ += stream->table().open.size();
    streams_.emplace(stream->name, std::move(stream));
  }
  return FromRocks(it->status(), "scanning stream meta");
}

// Rebuilds the shard table from the committed meta record alone, and refuses one that breaks
// the invariants a reshard keeps (open ranges cover every hash key once, children of closed
// shards known).
Status StoreImpl::LoadShards(const proto::Stream& meta, StreamState& stream) {
  auto table = std::make_unique<ShardTable>();
  std::map<std::string, uint32_t> index_of;
  for (int i = 0; i < meta.shards_size(); ++i) {
    const auto& sp = meta.shards(i);
    auto index = keys::ShardIndexFromId(sp.shard_id());
    if (!index || index_of.count(sp.shard_id()) != 0) {
      return Status::Corruption("bad shard id " + sp.shard_id() + " in stream " + meta.name());
    }
    auto shard = std::make_unique<ShardState>();
    shard->id = sp.shard_id();
    shard->index = *index;
    shard->uid = sp.uid();
    auto start = HashKeyFromBytes(sp.hash_key_start());
    auto end = HashKeyFromBytes(sp.hash_key_end());
    if (!start || !end) return Status::Corruption("bad hash range in stream " + meta.name());
    shard->range = {*start, *end};
    shard->trim_offset = sp.trim_offset() == 0 ? 1 : sp.trim_offset();
    shard->parent_id = sp.parent_shard_id();
    shard->adjacent_parent_id = sp.adjacent_parent_shard_id();
    shard->created_ms = sp.created_ms() != 0 ? sp.created_ms() : meta.created_ms();
    TL_RETURN_IF_ERROR(RecoverShard(*shard));
    if (sp.closed()) {
      if (shard->last_offset.load() > sp.ending_offset()) {
        return Status::Corruption(shard->id + " of stream " + meta.name() +
                                  " holds records past its ending offset");
      }
      shard->ending_offset = sp.ending_offset();
      shard->closed_ms = sp.closed_ms();
      shard->writer_closed = true;
      shard->closed = true;
    }
    if (table->by_index.size() <= *index) table->by_index.resize(*index + 1, nullptr);
    table->by_index[*index] = shard.get();
    index_of.emplace(shard->id, *index);
    stream.owned.push_back(std::move(shard));
  }
  table->next_index =
      std::max<uint32_t>(meta.next_shard_index(), static_cast<uint32_t>(table->by_index.size()));
  std::vector<OpenShardRef> open;
  for (ShardState* shard : table->by_index) {
    if (shard == nullptr) continue;
    for (const std::string* parent : {&shard->parent_id, &shard->adjacent_parent_id}) {
      auto it = index_of.find(*parent);
      if (it != index_of.end()) table->by_index[it->second]->children.push_back(shard->index);
    }
    if (!shard->closed.load()) open.push_back({shard->index, shard->range});
  }
  std::sort(open.begin(), open.end(), [](const OpenShardRef& a, const OpenShardRef& b) {
    return a.range.start < b.range.start;
  });
  if (Status st = CheckOpenShardsCoverHashKeys(open); !st.ok()) {
    return Status::Corruption("stream " + meta.name() + ": " + st.message());
  }
  for (const OpenShardRef& ref : open)
    table->open.push_back(table->by_index[ref.index]);
  stream.Publish(std::move(table));
  return Status::Ok();
}

// The last offset of a shard is its highest stored key; an empty (or fully trimmed) shard
// continues right below its trim offset.
Status StoreImpl::RecoverShard(ShardState& shard) {
  const uint64_t trim = shard.trim_offset.load();
  uint64_t last = trim - 1;
  int64_t arrival = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, records_cf_));
  it->SeekForPrev(keys::RecordKey(shard.uid, UINT64_MAX));
  if (it->Valid()) {
    auto parts = keys::DecodeRecordKey(it->key().ToStringView());
    if (parts && parts->shard_uid == shard.uid && parts->offset >= trim) {
      RecordFields fields;
      if (!DecodeRecordValue(it->value().ToStringView(), &fields)) {
        return Status::Corruption("last record of " + shard.id + " does not decode");
      }
      last = parts->offset;
      arrival = fields.arrival_ms;
    }
  }
  TL_RETURN_IF_ERROR(FromRocks(it->status(), "recovering " + shard.id));
  shard.last_offset = last;
  shard.last_arrival_ms = arrival;
  shard.writer_offset = last;
  shard.writer_arrival_ms = arrival;
  return Status::Ok();
}

}  // namespace tideline::storage
