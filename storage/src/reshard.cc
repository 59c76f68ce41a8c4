// Resharding of the RocksDB store: SplitShard, MergeShards, UpdateShardCount.
//
// The caller's thread checks and plans under the stream's meta_mu (so retention and other meta
// rewrites wait); the writer thread commits the plan (ApplyReshard) between two group commits,
// so every append acknowledged before it is in a parent at or below its ending offset and
// every later one in a child. The whole change is one synced WriteBatch: the stream's meta
// record (parents closed, children added) and next_uid. Nothing is published before it is
// durable.
#include <algorithm>

#include "keys.h"
#include "reshard_plan.h"
#include "store_impl.h"

namespace tideline::storage {
namespace {

std::vector<OpenShardRef> OpenRefs(const ShardTable& table) {
  std::vector<OpenShardRef> out;
  out.reserve(table.open.size());
  for (const ShardState* s : table.open)
    out.push_back({s->index, s->range});
  return out;
}

}  // namespace

template <typename PlanFn>
Status StoreImpl::Reshard(const StreamName& name, bool scaling, PlanFn&& plan_fn) {
  auto stream = FindStream(name.get());
  if (!stream) return Status::NotFound("Stream " + name.get() + " not found");
  bool expected = false;
  if (!stream->resharding.compare_exchange_strong(expected, true)) {
    return Status::ResourceInUse("Stream " + name.get() +
                                 " is being resharded: its status is UPDATING");
  }
  struct Clear {
    std::atomic<bool>& flag;
    ~Clear() { flag.store(false); }
  } clear{stream->resharding};
  if (MonotonicMs() < stream->updating_until_ms.load()) {
    return Status::ResourceInUse("Stream " + name.get() +
                                 " is not ACTIVE: it was resharded moments ago and is UPDATING");
  }
  std::lock_guard<std::mutex> meta_lock(stream->meta_mu);
  if (stream->deleted.load()) return Status::NotFound("Stream " + name.get() + " not found");
  if (scaling) {
    const int64_t now = MonotonicMs();
    std::erase_if(stream->scalings_ms, [now](int64_t t) { return now - t >= 24 * 3600 * 1000; });
    if (stream->scalings_ms.size() >= static_cast<size_t>(kMaxScalingsPerDay)) {
      return Status::LimitExceeded("Stream " + name.get() + " has been scaled " +
                                   std::to_string(kMaxScalingsPerDay) +
                                   " times in the last 24 hours, the most UpdateShardCount "
                                   "allows; try again later");
    }
  }
  const ShardTable& table = stream->table();
  Result<ReshardPlan> plan = plan_fn(table, OpenRefs(table));
  if (!plan.ok()) return plan.status();
  if (plan->created.empty()) return Status::Ok();
  {
    std::shared_lock<std::shared_mutex> lock(streams_mu_);
    const uint64_t after = total_shards_ - table.open.size() + plan->open_after;
    if (plan->open_after > table.open.size() && after > options_.shard_limit) {
      return Status::LimitExceeded(
          "resharding " + name.get() + " to " + std::to_string(plan->open_after) +
          " open shards would exceed the shard limit of " + std::to_string(options_.shard_limit) +
          " (" + std::to_string(total_shards_) + " in use)");
    }
  }
  TL_RETURN_IF_ERROR(RunOnWriter([&] { return ApplyReshard(*stream, *plan); }));
  if (scaling) stream->scalings_ms.push_back(MonotonicMs());
  stream->updating_until_ms.store(MonotonicMs() + options_.reshard_updating_delay.count());
  log_->info("resharded stream {}: closed {} shards, made {} ({} open now)", name.get(),
             plan->closed.size(), plan->created.size(), plan->open_after);
  return Status::Ok();
}

// Writer thread, with the stream's meta_mu held by the caller of Reshard.
Status StoreImpl::ApplyReshard(StreamState& stream, const ReshardPlan& plan) {
  if (stream.deleted.load()) return Status::NotFound("Stream " + stream.name + " not found");
  const ShardTable& old = stream.table();
  const int64_t now = NowMs();
  auto table = std::make_unique<ShardTable>();
  table->by_index = old.by_index;
  table->by_index.resize(plan.next_index, nullptr);
  table->next_index = plan.next_index;
  std::vector<std::unique_ptr<ShardState>> made;
  std::vector<ShardState*> closing;
  for (uint32_t index : plan.closed)
    closing.push_back(old.by_index[index]);

  std::unique_lock<std::shared_mutex> lock(streams_mu_);
  uint64_t uid = next_uid_;
  for (const PlannedShard& p : plan.created) {
    auto shard = std::make_unique<ShardState>();
    shard->id = keys::ShardIdForIndex(p.index);
    shard->index = p.index;
    shard->uid = uid++;
    shard->range = p.range;
    shard->created_ms = now;
    if (p.parent) shard->parent_id = keys::ShardIdForIndex(*p.parent);
    if (p.adjacent_parent) shard->adjacent_parent_id = keys::ShardIdForIndex(*p.adjacent_parent);
    if (!p.open) {
      shard->ending_offset = 0;
      shard->closed_ms = now;
      shard->writer_closed = true;
      closing.push_back(shard.get());
    }
    table->by_index[p.index] = shard.get();
    made.push_back(std::move(shard));
  }
  std::vector<std::pair<ShardState*, uint32_t>> child_links;  // set once durable
  for (const PlannedShard& p : plan.created) {
    for (const std::optional<uint32_t>& parent : {p.parent, p.adjacent_parent}) {
      if (parent) child_links.emplace_back(table->by_index[*parent], p.index);
    }
  }
  for (ShardState* s : table->by_index) {
    if (s == nullptr) continue;
    const bool is_closing = std::find(closing.begin(), closing.end(), s) != closing.end();
    if (!is_closing && !s->closed.load()) table->open.push_back(s);
  }
  std::sort(table->open.begin(), table->open.end(), [](const ShardState* a, const ShardState* b) {
    return a->range.start < b->range.start;
  });

  // The meta record as it will be: closing shards written closed at their current end (every
  // earlier append is committed: this runs between two group commits).
  proto::Stream meta = ToProto(stream, *table, {}, proto::Stream::ACTIVE);
  for (proto::Shard& sp : *meta.mutable_shards()) {
    auto index = keys::ShardIndexFromId(sp.shard_id());
    ShardState* s = table->by_index[*index];
    if (std::find(closing.begin(), closing.end(), s) == closing.end()) continue;
    sp.set_closed(true);
    sp.set_ending_offset(s->writer_offset);
    sp.set_closed_ms(now);
  }
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, keys::StreamKey(stream.name), meta.SerializeAsString());
  batch.Put(meta_cf_, keys::kNextUidKey, keys::EncodeU64(uid));
  if (hooks_.write_fault) TL_RETURN_IF_ERROR(hooks_.write_fault());
  TL_RETURN_IF_ERROR(FromRocks(db_->Write(SyncWrite(), &batch), "resharding " + stream.name));
  next_uid_ = uid;
  total_shards_ = total_shards_ - old.open.size() + table->open.size();
  lock.unlock();

  // Durable: publish. Children first (the new table), then close the parents, so a reader that
  // sees a parent closed finds its children.
  for (auto& [parent, child] : child_links)
    parent->children.push_back(child);
  for (auto& shard : made)
    stream.owned.push_back(std::move(shard));
  stream.Publish(std::move(table));
  for (ShardState* s : closing) {
    s->ending_offset = s->writer_offset;
    s->closed_ms = now;
    s->writer_closed = true;
    s->closed.store(true, std::memory_order_release);
  }
  NotifyCommitted({});  // readers waiting at a parent's end return now
  return Status::Ok();
}

Status StoreImpl::SplitShard(const StreamName& stream, const ShardId& shard,
                             HashKey new_starting_hash_key) {
  return Reshard(
      stream, false,
      [&](const ShardTable& table, const std::vector<OpenShardRef>& open) -> Result<ReshardPlan> {
        auto index = keys::ShardIndexFromId(shard.get());
        if (!index || *index >= table.by_index.size() || table.by_index[*index] == nullptr) {
          return Status::NotFound("Could not find shard " + shard.get() + " in stream " +
                                  stream.get());
        }
        if (table.by_index[*index]->closed.load()) {
          return Status::InvalidArgument("Shard " + shard.get() + " in stream " + stream.get() +
                                         " is closed and cannot be split");
        }
        return PlanSplit(open, table.next_index, *index, new_starting_hash_key,
                         "stream " + stream.get());
      });
}

Status StoreImpl::MergeShards(const StreamName& stream, const ShardId& shard,
                              const ShardId& adjacent_shard) {
  return Reshard(
      stream, false,
      [&](const ShardTable& table, const std::vector<OpenShardRef>& open) -> Result<ReshardPlan> {
        uint32_t indices[2] = {0, 0};
        const ShardId* ids[2] = {&shard, &adjacent_shard};
        for (int i = 0; i < 2; ++i) {
          auto index = keys::ShardIndexFromId(ids[i]->get());
          if (!index || *index >= table.by_index.size() || table.by_index[*index] == nullptr) {
            return Status::NotFound("Could not find shard " + ids[i]->get() + " in stream " +
                                    stream.get());
          }
          if (table.by_index[*index]->closed.load()) {
            return Status::InvalidArgument("Shard " + ids[i]->get() + " in stream " + stream.get() +
                                           " is closed and cannot be merged");
          }
          indices[i] = *index;
        }
        return PlanMerge(open, table.next_index, indices[0], indices[1], "stream " + stream.get());
      });
}

Result<Store::ShardCountChange> StoreImpl::UpdateShardCount(const StreamName& stream,
                                                            uint32_t target, ScalingType) {
  ShardCountChange change;
  change.target = target;
  Status st =
      Reshard(stream, true, [&](const ShardTable& table, const std::vector<OpenShardRef>& open) {
        change.current = static_cast<uint32_t>(table.open.size());
        return PlanUniformScaling(open, table.next_index, target, "stream " + stream.get());
      });
  if (!st.ok()) return st;
  return change;
}

}  // namespace tideline::storage
