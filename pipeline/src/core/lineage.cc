// Shard lineage, as the KCL follows it: a child shard is read only after its parents were read
// to their end and delivered, so a partition key's records reach the destination in the order
// they were written across SplitShard, MergeShards and UpdateShardCount. See pipeline_impl.h
// ("Lineage") for the rule and its wake-ups.
#include <map>
#include <set>

#include "core/pipeline_impl.h"
#include "storage/sequence_number.h"

namespace tideline::pipeline {
namespace {

// How often a waiting reader looks again without a lineage event: retention removing a parent,
// or checkpoints set from outside the pipeline, wake nobody. A child looks at the whole stream,
// so it looks less often.
constexpr std::chrono::milliseconds kParentsPoll{5000};
constexpr std::chrono::milliseconds kEndPoll{1000};
constexpr std::chrono::milliseconds kErrorPause{1000};

// The pipeline's checkpoint offset of every shard of `info` that has one of this stream (a
// checkpoint of an earlier stream of the same name names another uid and does not count).
std::map<std::string, uint64_t> CheckpointedOffsets(const storage::StreamInfo& info,
                                                    const std::vector<storage::Checkpoint>& all) {
  std::map<std::string, ShardUid> uids;
  for (const storage::ShardInfo& shard : info.shards)
    uids.emplace(shard.id.get(), shard.uid);
  std::map<std::string, uint64_t> out;
  for (const storage::Checkpoint& cp : all) {
    if (cp.stream != info.name) continue;
    auto uid = uids.find(cp.shard.get());
    if (uid == uids.end() || !OffsetInShard(uid->second, cp.sequence_number.get())) continue;
    out[cp.shard.get()] = cp.offset.get();
  }
  return out;
}

// Which of `parents` are not finished. A shard is finished when retention removed it (it is not
// listed), or it is closed, its checkpoint is at its ending offset and its own parents are
// finished. Shard ids count up, so info.shards (in id order) lists parents before children and
// one pass decides every shard.
std::vector<std::string> UnfinishedParents(const storage::StreamInfo& info,
                                           const std::map<std::string, uint64_t>& checkpointed,
                                           const std::vector<ShardId>& parents) {
  std::map<std::string, bool> finished;
  const auto is_finished = [&finished](const std::string& id) {
    auto it = finished.find(id);
    return it == finished.end() || it->second;  // not listed: aged out
  };
  for (const storage::ShardInfo& shard : info.shards) {
    auto cp = checkpointed.find(shard.id.get());
    finished[shard.id.get()] =
        shard.closed && cp != checkpointed.end() && cp->second >= shard.ending_offset.get() &&
        is_finished(shard.parent_shard_id) && is_finished(shard.adjacent_parent_shard_id);
  }
  std::vector<std::string> out;
  for (const ShardId& parent : parents) {
    if (!is_finished(parent.get())) out.push_back(parent.get());
  }
  return out;
}

}  // namespace

bool PipelineImpl::InitCheckpoints(const storage::StreamInfo& info) {
  const CheckpointOwner owner(options_.name);
  const std::map<std::string, uint64_t> checkpointed =
      CheckpointedOffsets(info, store_.ListCheckpoints(owner));
  // Shards the pipeline reads already, and their descendants.
  std::set<std::string> followed;
  std::vector<storage::Store::ShardCheckpoint> starts;
  for (const storage::ShardInfo& shard : info.shards) {
    const bool descendant = followed.contains(shard.parent_shard_id) ||
                            followed.contains(shard.adjacent_parent_shard_id);
    if (checkpointed.contains(shard.id.get()) || descendant) followed.insert(shard.id.get());
    if (checkpointed.contains(shard.id.get())) continue;
    storage::StreamPosition position = options_.source.start;
    // A child of shards being read continues them: from its first record, whatever LATEST
    // meant when the pipeline started. AT_TIMESTAMP still applies (the KCL does the same).
    if (descendant && position.type == storage::StartingPosition::kLatest) {
      position = storage::StreamPosition::TrimHorizon();
    }
    auto start = store_.ResolvePosition(info.name, shard.id, position);
    if (!start.ok()) {
      log_->error("pipeline {}: resolving the start of {}: {}", options_.name, shard.id.get(),
                  start.status().ToString());
      return false;
    }
    starts.push_back({shard.id, SequenceNumberOf(shard.uid, Offset(start->get() - 1))});
    log_->info("pipeline {}: {} starts at offset {} ({})", options_.name, shard.id.get(),
               start->get(), storage::StartingPositionName(position.type));
  }
  if (starts.empty()) return true;
  Status st;
  {
    // Ordered with a Reset's epoch bump and checkpoint write, as delivery's checkpoints are.
    std::lock_guard<std::mutex> cp_lock(checkpoint_mu_);
    st = store_.SetCheckpoints(owner, info.name, starts);
  }
  if (!st.ok()) {
    log_->error("pipeline {}: writing the starting checkpoints: {}", options_.name, st.ToString());
    return false;
  }
  return true;
}

bool PipelineImpl::WaitForParents(std::stop_token stop, const ShardSource& source) {
  if (source.parents.empty()) return true;
  ShardStats& stats = *source.stats;
  const CheckpointOwner owner(options_.name);
  while (!stop.stop_requested()) {
    const uint64_t seen = LineageEvents(kShardFinished);
    auto info = store_.DescribeStream(options_.source.stream);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) return false;  // stream deleted
      ReadFailed(source, info.status());
      WaitForLineageEvent(stop, kShardFinished, seen, kErrorPause);
      continue;
    }
    ReadWorked(source);
    std::vector<std::string> waiting = UnfinishedParents(
        *info, CheckpointedOffsets(*info, store_.ListCheckpoints(owner)), source.parents);
    if (waiting.empty()) {
      if (stats.phase.exchange(ShardPhase::kReading) == ShardPhase::kWaitingForParents) {
        log_->info("pipeline {}: parents of {} finished; reading it", options_.name,
                   source.shard.get());
      }
      std::lock_guard<std::mutex> lock(mu_);
      stats.waiting_for.clear();
      return true;
    }
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stats.waiting_for != waiting) {
        changed = true;
        stats.waiting_for = waiting;
      }
    }
    stats.phase.store(ShardPhase::kWaitingForParents);
    if (changed) {
      std::string names;
      for (const std::string& id : waiting)
        names += (names.empty() ? "" : ", ") + id;
      log_->info("pipeline {}: {} waits for its parents {} to be delivered to their end",
                 options_.name, source.shard.get(), names);
    }
    WaitForLineageEvent(stop, kShardFinished, seen, kParentsPoll);
  }
  return false;
}

bool PipelineImpl::FinishShard(std::stop_token stop, const ShardSource& source, uint64_t epoch,
                               uint64_t read_through, uint64_t ending_offset) {
  const CheckpointOwner owner(options_.name);
  const StreamName& stream = options_.source.stream;
  while (!stop.stop_requested()) {
    if (epoch_.load(std::memory_order_acquire) != epoch) return false;  // a Reset is under way
    const uint64_t seen = LineageEvents(kFlushCheckpointed);
    auto cp = store_.GetCheckpoint(owner, stream, source.shard);
    if (!cp.ok()) {
      // Gone with the shard (retention) or the stream: nothing is left to finish.
      if (cp.status().code() == StatusCode::kNotFound) return false;
      ReadFailed(source, cp.status());
      WaitForLineageEvent(stop, kFlushCheckpointed, seen, kErrorPause);
      continue;
    }
    if (!OffsetInShard(source.uid, cp->sequence_number.get())) return false;  // stream recreated
    const uint64_t at = cp->offset.get();
    if (at < read_through) {
      // Records this reader handed on are not delivered yet: the next flush's checkpoints wake us.
      WaitForLineageEvent(stop, kFlushCheckpointed, seen, kEndPoll);
      continue;
    }
    if (at < ending_offset) {
      // The records past the checkpoint expired before they were read, or the reader started at
      // the end: the checkpoint says "shard end" for the children all the same.
      const storage::Store::ShardCheckpoint end{
          source.shard, SequenceNumberOf(source.uid, Offset(ending_offset))};
      Status st;
      {
        std::lock_guard<std::mutex> cp_lock(checkpoint_mu_);
        if (epoch_.load(std::memory_order_acquire) != epoch) return false;
        st = store_.SetCheckpoints(owner, stream, std::span(&end, 1));
      }
      if (!st.ok()) {
        if (st.code() == StatusCode::kNotFound) return false;
        ReadFailed(source, st);
        WaitForLineageEvent(stop, kFlushCheckpointed, seen, kErrorPause);
        continue;
      }
    }
    ReadWorked(source);
    source.stats->phase.store(ShardPhase::kFinished);
    log_->info("pipeline {}: {} delivered to its end (offset {}); its children may follow",
               options_.name, source.shard.get(), ending_offset);
    NotifyLineage(kShardFinished);
    return true;
  }
  return false;
}

uint64_t PipelineImpl::LineageEvents(LineageEvent event) {
  std::lock_guard<std::mutex> lock(lineage_mu_);
  return lineage_events_[event];
}

void PipelineImpl::WaitForLineageEvent(std::stop_token stop, LineageEvent event, uint64_t seen,
                                       std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(lineage_mu_);
  lineage_cv_[event].wait_for(lock, stop, timeout, [&] { return lineage_events_[event] != seen; });
}

void PipelineImpl::NotifyLineage(LineageEvent event) {
  {
    std::lock_guard<std::mutex> lock(lineage_mu_);
    ++lineage_events_[event];
  }
  lineage_cv_[event].notify_all();
}

}  // namespace tideline::pipeline
