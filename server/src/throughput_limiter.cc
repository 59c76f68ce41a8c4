#include "throughput_limiter.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "common/regional_stream.h"

namespace tideline::server {
namespace {
__extension__ typedef __int128 Int128;  // __extension__: GCC builtin under -Wpedantic
}  // namespace

int64_t TokenBucket::CostNs(int64_t units) const {
  // 128-bit: 10 MiB at 1 byte/s is 1e16 ns, and units come from outside.
  const Int128 ns = static_cast<Int128>(units) * kBurstNs / rate_;
  return ns > (int64_t{1} << 62) ? int64_t{1} << 62 : static_cast<int64_t>(ns);
}

bool TokenBucket::TryTake(int64_t units, int64_t now_ns) {
  const int64_t cost = CostNs(units);
  int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  while (true) {
    const int64_t next = std::max(tat, now_ns) + cost;
    if (next - now_ns > kBurstNs) return false;
    if (tat_ns_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) return true;
  }
}

void TokenBucket::Refund(int64_t units) {
  tat_ns_.fetch_sub(CostNs(units), std::memory_order_relaxed);
}

void TokenBucket::Charge(int64_t units, int64_t now_ns) {
  const int64_t cost = CostNs(units);
  int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  while (!tat_ns_.compare_exchange_weak(tat, std::max(tat, now_ns) + cost,
                                        std::memory_order_relaxed)) {
  }
}

bool TokenBucket::HasCredit(int64_t now_ns) const {
  return tat_ns_.load(std::memory_order_relaxed) - now_ns < kBurstNs;
}

int64_t TokenBucket::Available(int64_t now_ns) const {
  const int64_t used_ns = std::max(tat_ns_.load(std::memory_order_relaxed), now_ns) - now_ns;
  const Int128 units = static_cast<Int128>(kBurstNs - used_ns) * rate_ / kBurstNs;
  return static_cast<int64_t>(units);
}

bool ShardBuckets::TryWrite(int64_t bytes, int64_t now_ns) {
  if (!write_records.TryTake(1, now_ns)) return false;
  if (write_bytes.TryTake(bytes, now_ns)) return true;
  write_records.Refund(1);
  return false;
}

bool ShardBuckets::TryRead(int64_t now_ns) {
  // A call refused for bytes does not spend a call.
  return read_bytes.HasCredit(now_ns) && read_calls.TryTake(1, now_ns);
}

const StreamShards::Route* StreamShards::RouteOf(HashKey key) const {
  // The last open shard starting at or below the key.
  auto it = std::upper_bound(open.begin(), open.end(), key,
                             [](HashKey k, const Route& r) { return k < r.range.start; });
  if (it == open.begin()) return nullptr;
  --it;
  return key <= it->range.end ? &*it : nullptr;
}

ShardBuckets* StreamShards::Find(std::string_view shard_id) const {
  auto it = shards.find(shard_id);
  return it == shards.end() ? nullptr : it->second.get();
}

std::shared_ptr<const StreamShards> ThroughputLimiter::Load(const storage::StreamInfo& info) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(info.name.get());
  if (it != streams_.end() && !it->second->stale.load() && it->second->stream_uid == info.uid &&
      info.shards.size() == it->second->shards.size()) {
    return it->second;  // another request loaded it meanwhile
  }
  auto table = std::make_shared<StreamShards>();
  table->stream_uid = info.uid;
  const StreamShards* old =
      it != streams_.end() && it->second->stream_uid == info.uid ? it->second.get() : nullptr;
  for (const storage::ShardInfo& s : info.shards) {
    std::shared_ptr<ShardBuckets> buckets;
    if (old != nullptr) {
      auto kept = old->shards.find(s.id.get());
      if (kept != old->shards.end()) buckets = kept->second;
    }
    if (!buckets) buckets = std::make_shared<ShardBuckets>(limits_);
    auto [pos, inserted] = table->shards.emplace(s.id.get(), std::move(buckets));
    (void)inserted;  // shard ids of a stream are unique
    if (!s.closed) table->open.push_back({s.hash_range, &pos->first, pos->second.get()});
  }
  std::sort(table->open.begin(), table->open.end(),
            [](const auto& a, const auto& b) { return a.range.start < b.range.start; });
  std::shared_ptr<const StreamShards> result = std::move(table);
  if (it != streams_.end()) {
    it->second = result;
  } else {
    streams_.emplace(info.name.get(), result);
  }
  return result;
}

std::shared_ptr<const StreamShards> ThroughputLimiter::ForWrites(const StreamName& stream,
                                                                 storage::Store& store) {
  {
    std::shared_lock lock(mu_);
    auto it = streams_.find(stream.get());
    if (it != streams_.end() && !it->second->stale.load(std::memory_order_relaxed)) {
      return it->second;
    }
  }
  Result<storage::StreamInfo> info = store.DescribeStream(stream);
  if (!info.ok()) return nullptr;
  return Load(*info);
}

std::shared_ptr<ShardBuckets> ThroughputLimiter::ForShard(const storage::StreamInfo& info,
                                                          std::string_view shard) {
  std::shared_ptr<const StreamShards> table;
  {
    std::shared_lock lock(mu_);
    auto it = streams_.find(info.name.get());
    if (it != streams_.end() && it->second->stream_uid == info.uid) table = it->second;
  }
  if (table) {
    auto found = table->shards.find(shard);
    if (found != table->shards.end()) return found->second;
  }
  table = Load(info);
  auto found = table->shards.find(shard);
  // Load made a bucket for every shard of `info`, which holds `shard` (the caller's promise).
  if (found != table->shards.end()) return found->second;
  return std::make_shared<ShardBuckets>(limits_);
}

void ThroughputLimiter::Invalidate(std::string_view stream) {
  std::shared_lock lock(mu_);
  auto it = streams_.find(stream);
  if (it != streams_.end()) it->second->stale.store(true);
}

void ThroughputLimiter::Forget(std::string_view stream) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(stream);
  if (it != streams_.end()) streams_.erase(it);
}

std::string WriteThrottledMessage(std::string_view shard, std::string_view stream,
                                  std::string_view account) {
  return fmt::format("Rate exceeded for shard {} in stream {} under account {}.", shard,
                     SplitStoredStreamName(stream).name, account);
}

std::string ReadThrottledMessage(std::string_view shard, std::string_view stream,
                                 std::string_view account) {
  return fmt::format("Rate exceeded for Shard - {}/{}/{}", account,
                     SplitStoredStreamName(stream).name, shard);
}

}  // namespace tideline::server
