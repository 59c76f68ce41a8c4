#include "reshard_plan.h"

#include <algorithm>

#include "keys.h"
#include "storage/store.h"

namespace tideline::storage {
namespace {

std::string Id(uint32_t index) {
  return keys::ShardIdForIndex(index);
}

// Applies one split or merge to a simulated open list, recording it in `plan`.
class PlanBuilder {
 public:
  PlanBuilder(const std::vector<OpenShardRef>& open, uint32_t next_index)
      : open_(open), next_(next_index) {
    for (const OpenShardRef& s : open)
      original_.push_back(s.index);
  }

  void Split(size_t pos, HashKey at) {
    const OpenShardRef parent = open_[pos];
    const OpenShardRef low{next_++, {parent.range.start, at - 1}};
    const OpenShardRef high{next_++, {at, parent.range.end}};
    Close(parent.index);
    plan_.created.push_back({low.index, low.range, parent.index, std::nullopt, true});
    plan_.created.push_back({high.index, high.range, parent.index, std::nullopt, true});
    open_[pos] = low;
    open_.insert(open_.begin() + static_cast<ptrdiff_t>(pos) + 1, high);
  }

  // Merges open_[pos] with open_[pos + 1]; `parent` names which of them is the parent.
  void Merge(size_t pos, uint32_t parent, uint32_t adjacent) {
    const OpenShardRef child{next_++, {open_[pos].range.start, open_[pos + 1].range.end}};
    Close(open_[pos].index);
    Close(open_[pos + 1].index);
    plan_.created.push_back({child.index, child.range, parent, adjacent, true});
    open_[pos] = child;
    open_.erase(open_.begin() + static_cast<ptrdiff_t>(pos) + 1);
  }

  const std::vector<OpenShardRef>& open() const { return open_; }

  ReshardPlan Finish() {
    plan_.open_after = static_cast<uint32_t>(open_.size());
    plan_.next_index = next_;
    return std::move(plan_);
  }

 private:
  void Close(uint32_t index) {
    if (std::find(original_.begin(), original_.end(), index) != original_.end()) {
      plan_.closed.push_back(index);
      return;
    }
    for (PlannedShard& s : plan_.created) {
      if (s.index == index) s.open = false;
    }
  }

  std::vector<OpenShardRef> open_;
  std::vector<uint32_t> original_;
  uint32_t next_;
  ReshardPlan plan_;
};

size_t PositionOf(const std::vector<OpenShardRef>& open, uint32_t index) {
  return static_cast<size_t>(
      std::find_if(open.begin(), open.end(), [&](const auto& s) { return s.index == index; }) -
      open.begin());
}

}  // namespace

Result<ReshardPlan> PlanSplit(const std::vector<OpenShardRef>& open, uint32_t next_index,
                              uint32_t shard, HashKey new_starting_hash_key,
                              const std::string& what) {
  const size_t pos = PositionOf(open, shard);
  if (pos == open.size()) return Status::InvalidArgument("shard " + Id(shard) + " is not open");
  const HashKeyRange r = open[pos].range;
  // Kinesis's rule: each child keeps at least two hash keys.
  if (!(new_starting_hash_key > r.start + 1 && new_starting_hash_key < r.end)) {
    return Status::InvalidArgument(
        "NewStartingHashKey " + HashKeyToDecimal(new_starting_hash_key) +
        " used in SplitShard() on shard " + Id(shard) + " in " + what +
        " is not both greater than one plus the shard's StartingHashKey " +
        HashKeyToDecimal(r.start) + " and less than the shard's EndingHashKey " +
        HashKeyToDecimal(r.end) + ".");
  }
  PlanBuilder b(open, next_index);
  b.Split(pos, new_starting_hash_key);
  return b.Finish();
}

Result<ReshardPlan> PlanMerge(const std::vector<OpenShardRef>& open, uint32_t next_index,
                              uint32_t shard, uint32_t adjacent, const std::string& what) {
  const size_t a = PositionOf(open, shard);
  const size_t b = PositionOf(open, adjacent);
  if (a == open.size()) return Status::InvalidArgument("shard " + Id(shard) + " is not open");
  if (b == open.size()) return Status::InvalidArgument("shard " + Id(adjacent) + " is not open");
  // Open ranges are contiguous and sorted, so adjacent ranges are neighbours in the list.
  if (a == b || (a + 1 != b && b + 1 != a)) {
    return Status::InvalidArgument("Shards " + Id(shard) + " and " + Id(adjacent) + " in " + what +
                                   " are not an adjacent pair of shards eligible for "
                                   "merging");
  }
  PlanBuilder builder(open, next_index);
  builder.Merge(std::min(a, b), shard, adjacent);
  return builder.Finish();
}

Result<ReshardPlan> PlanUniformScaling(const std::vector<OpenShardRef>& open, uint32_t next_index,
                                       uint32_t target, const std::string& /*what*/) {
  const uint64_t current = open.size();
  if (target == 0) {
    return Status::InvalidArgument("TargetShardCount must be at least 1, got 0");
  }
  // Kinesis's wording (as kinesalite, whose messages were taken from the service, has it).
  const std::string counts = "Current open shard count: " + std::to_string(current) +
                             ", Target shard count: " + std::to_string(target);
  if (target > kMaxUpdateShardCount) {
    return Status::LimitExceeded(
        "Target shard count or number of open shards cannot be greater "
        "than " +
        std::to_string(kMaxUpdateShardCount) + ". " + counts);
  }
  if (target > 2 * current) {
    return Status::LimitExceeded(
        "UpdateShardCount cannot scale up over double your current open shard count. " + counts);
  }
  if (2 * uint64_t{target} < current) {
    return Status::LimitExceeded(
        "UpdateShardCount cannot scale down below half your current open shard count. " + counts);
  }
  PlanBuilder b(open, next_index);
  if (target == current) return b.Finish();  // nothing to change (ranges are kept as they are)
  const std::vector<HashKeyRange> goal = EvenHashKeyRanges(target);
  for (size_t j = 1; j < goal.size(); ++j) {
    const HashKey at = goal[j].start;
    const auto& now = b.open();
    auto it = std::upper_bound(now.begin(), now.end(), at,
                               [](HashKey k, const OpenShardRef& s) { return k < s.range.start; });
    const size_t pos = static_cast<size_t>(it - now.begin()) - 1;
    if (now[pos].range.start != at) b.Split(pos, at);
  }
  for (size_t j = 0; j < goal.size(); ++j) {
    for (;;) {
      const auto& now = b.open();
      const size_t pos = static_cast<size_t>(
          std::find_if(now.begin(), now.end(),
                       [&](const OpenShardRef& s) { return s.range.start == goal[j].start; }) -
          now.begin());
      if (now[pos].range.end == goal[j].end) break;
      b.Merge(pos, now[pos].index, now[pos + 1].index);
    }
  }
  return b.Finish();
}

Status CheckOpenShardsCoverHashKeys(const std::vector<OpenShardRef>& open) {
  if (open.empty()) return Status::InvalidArgument("no open shard");
  if (open.front().range.start != 0) {
    return Status::InvalidArgument("open shards do not start at hash key 0");
  }
  for (size_t i = 0; i < open.size(); ++i) {
    if (open[i].range.end < open[i].range.start) {
      return Status::InvalidArgument("shard " + Id(open[i].index) + " has an empty range");
    }
    if (i + 1 < open.size() && open[i].range.end + 1 != open[i + 1].range.start) {
      return Status::InvalidArgument("open shards " + Id(open[i].index) + " and " +
                                     Id(open[i + 1].index) + " leave a gap or overlap");
    }
  }
  if (open.back().range.end != kMaxHashKey) {
    return Status::InvalidArgument("open shards do not end at hash key 2^128 - 1");
  }
  return Status::Ok();
}

}  // namespace tideline::storage
