// What a reshard changes, worked out from the open shards alone: both Store implementations
// plan SplitShard, MergeShards and UpdateShardCount here and apply the plan their own way.
// Private to storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/hash_key.h"

namespace tideline::storage {

struct OpenShardRef {
  uint32_t index = 0;  // shard number: shardId-%012d
  HashKeyRange range{};
};

struct PlannedShard {
  uint32_t index = 0;
  HashKeyRange range{};
  std::optional<uint32_t> parent;
  std::optional<uint32_t> adjacent_parent;
  // False for UpdateShardCount's intermediate shards, made and closed by the same change.
  bool open = true;
};

struct ReshardPlan {
  std::vector<uint32_t> closed;       // shards open before the change that it closes
  std::vector<PlannedShard> created;  // new shards, in index order (indices next_index, ...)
  uint32_t open_after = 0;            // open shards once applied
  uint32_t next_index = 0;            // the next unused shard number once applied
};

// `open` holds every open shard sorted by range start (their ranges cover [0, 2^128 - 1]);
// `next_index` is the first unused shard number; `what` names the stream in messages.
// `shard` must be open and in `open`: the caller reports unknown (NotFound) and closed shards.
Result<ReshardPlan> PlanSplit(const std::vector<OpenShardRef>& open, uint32_t next_index,
                              uint32_t shard, HashKey new_starting_hash_key,
                              const std::string& what);
Result<ReshardPlan> PlanMerge(const std::vector<OpenShardRef>& open, uint32_t next_index,
                              uint32_t shard, uint32_t adjacent, const std::string& what);
// Even ranges for `target` shards, reached by splitting at every new boundary that is not yet
// one and then merging, left to right, what lies inside each new range. Checks the target
// against the open count (half .. double, kMaxUpdateShardCount); not the per-day limit.
Result<ReshardPlan> PlanUniformScaling(const std::vector<OpenShardRef>& open, uint32_t next_index,
                                       uint32_t target, const std::string& what);

// InvalidArgument unless `open` is sorted, contiguous and covers [0, 2^128 - 1] exactly once:
// the invariant every committed shard table keeps (recovery checks it).
Status CheckOpenShardsCoverHashKeys(const std::vector<OpenShardRef>& open);

}  // namespace tideline::storage
