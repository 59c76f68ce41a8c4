// Shard lineage: a pipeline reads a child shard only after its parents were delivered to their
// end, so every partition key reaches the destination in the order it was written across
// SplitShard, MergeShards and UpdateShardCount, also when the pipeline restarts in between.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "pipeline/pipeline.h"
#include "test_util/test_store.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline {
namespace {

const StreamName kStream("orders");
const ShardId kShard0("shardId-000000000000");
const ShardId kShard1("shardId-000000000001");
const ShardId kShard2("shardId-000000000002");
const ShardId kShard3("shardId-000000000003");

struct Delivered {
  std::string shard;
  std::string body;  // "<key>:<counter>"
};

// Keeps every delivered document in arrival order, as the fake OpenSearch does. Deliveries wait
// while the gate is closed (a stop request ends the wait, as an abandoned request would).
class RecordingDestination final : public Destination {
 public:
  explicit RecordingDestination(bool open = true) : open_(open) {}
  std::string_view type() const override { return "recording"; }
  std::string description() const override { return "recording"; }
  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token stop) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait(lock, stop, [&] { return open_; })) return Status::Unavailable("stopping");
    for (size_t i = 0; i < docs.size(); ++i) {
      log_.push_back({std::string(docs[i].shard), std::string(docs[i].body)});
      results[i].delivered = true;
    }
    return Status::Ok();
  }
  void SetOpen(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = open;
    cv_.notify_all();
  }
  std::vector<Delivered> log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool open_;                   // GUARDED_BY(mu_)
  std::vector<Delivered> log_;  // GUARDED_BY(mu_)
};

template <typename F>
bool PollUntil(F done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + tideline::testing::Scaled(limit);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class LineageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.options().reshard_updating_delay = std::chrono::milliseconds(0);
    const Status opened = store_.Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    options_.name = "orders-to-index";
    options_.source.stream = kStream;
    options_.buffer.interval_s = 0;  // flush as soon as anything is buffered
    options_.source.read_max_records = 20;
    // Replaced by a recording destination at Start; validated all the same.
    FileDestinationOptions file;
    file.path = store_.dir().Sub("unused");
    options_.destination.options = file;
    options_.backup.path = store_.dir().Sub("backup");
  }

  // Starts a pipeline delivering to a new recording destination (kept in dest_; what the one
  // before received goes to earlier_, so call it while the previous pipeline still exists).
  std::unique_ptr<Pipeline> Start(bool open = true) {
    if (dest_ != nullptr) {
      for (Delivered& d : dest_->log())
        earlier_.push_back(std::move(d));
    }
    auto dest = std::make_unique<RecordingDestination>(open);
    dest_ = dest.get();
    auto p = Pipeline::StartWith(options_, *store_, {}, std::move(dest));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(*p) : nullptr;
  }

  // `rounds` more records for each of the keys: one append per round, so a key's counters are
  // written in order.
  void Put(int rounds) {
    for (int r = 0; r < rounds; ++r) {
      std::vector<std::string> data;
      std::vector<storage::AppendRecord> records;
      for (const std::string& key : keys_)
        data.push_back(key + ":" + std::to_string(next_[key]++));
      for (size_t i = 0; i < keys_.size(); ++i)
        records.push_back({keys_[i], "", data[i]});
      auto appended = store_->Append(kStream, records);
      ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    }
  }

  // Everything put so far delivered at least once, in this run or an earlier one (bounded wait).
  bool WaitAllDelivered() {
    return PollUntil([&] {
      std::set<std::string> seen;
      for (const Delivered& d : earlier_)
        seen.insert(d.body);
      for (const Delivered& d : dest_->log())
        seen.insert(d.body);
      size_t expected = 0;
      for (const auto& [key, n] : next_)
        expected += static_cast<size_t>(n);
      return seen.size() == expected;
    });
  }

  // Per key, the counters in order of first delivery are 0, 1, 2, ...: nothing is missing and
  // no counter arrives for the first time after a later one did. `logs` are successive runs.
  void ExpectEveryKeyInOrder(const std::vector<std::vector<Delivered>>& logs) {
    std::map<std::string, std::set<int>> seen;
    std::map<std::string, int> expect_next;
    for (const auto& log : logs) {
      for (const Delivered& d : log) {
        const size_t colon = d.body.find(':');
        ASSERT_NE(colon, std::string::npos) << d.body;
        const std::string key = d.body.substr(0, colon);
        const int n = std::stoi(d.body.substr(colon + 1));
        if (!seen[key].insert(n).second) continue;  // a duplicate: at-least-once allows it
        EXPECT_EQ(n, expect_next[key])
            << key << ": counter " << n << " first delivered in shard " << d.shard << " while "
            << expect_next[key] << " was still missing";
        expect_next[key] = std::max(expect_next[key], n + 1);
      }
    }
    for (const auto& [key, n] : next_)
      EXPECT_EQ(seen[key].size(), static_cast<size_t>(n)) << key;
  }

  // Every document of `before` shards arrived before any document of `after` shards.
  static void ExpectShardsBefore(const std::vector<Delivered>& log,
                                 const std::set<std::string>& before,
                                 const std::set<std::string>& after) {
    ptrdiff_t last_before = -1;
    ptrdiff_t first_after = -1;
    for (size_t i = 0; i < log.size(); ++i) {
      if (before.contains(log[i].shard)) last_before = static_cast<ptrdiff_t>(i);
      if (after.contains(log[i].shard) && first_after < 0) first_after = static_cast<ptrdiff_t>(i);
    }
    ASSERT_GE(last_before, 0) << "nothing delivered from the parents";
    ASSERT_GE(first_after, 0) << "nothing delivered from the children";
    EXPECT_LT(last_before, first_after);
  }

  static const ShardStatus* Find(const PipelineStatus& s, const ShardId& id) {
    for (const ShardStatus& sh : s.shards) {
      if (sh.shard_id == id.get()) return &sh;
    }
    return nullptr;
  }

  // Waits until `shard` shows `state` (bounded).
  static bool WaitShardState(Pipeline& p, const ShardId& shard, const std::string& state) {
    return PollUntil([&] {
      const PipelineStatus s = p.GetStatus();
      const ShardStatus* sh = Find(s, shard);
      return sh != nullptr && sh->state == state;
    });
  }

  testing::TestStore store_{testing::StoreKind::kMemory, "tideline-lineage-test"};
  PipelineOptions options_;
  RecordingDestination* dest_ = nullptr;
  std::vector<Delivered> earlier_;
  std::vector<std::string> keys_ = {"alpha",   "bravo", "charlie", "delta", "echo",
                                    "foxtrot", "golf",  "hotel",   "india", "juliet"};
  std::map<std::string, int> next_;
};

HashKey Half() {
  return HashKey{1} << 127;
}

TEST_F(LineageTest, ChildrenOfASplitWaitForTheParentToBeDeliveredToItsEnd) {
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  auto p = Start(/*open=*/false);
  Put(30);
  ASSERT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());
  Put(30);  // into the children
  // The parent's records are held at the destination: the children wait for them.
  ASSERT_TRUE(WaitShardState(*p, kShard1, "waiting_for_parents"));
  ASSERT_TRUE(WaitShardState(*p, kShard2, "waiting_for_parents"));
  const PipelineStatus waiting = p->GetStatus();
  EXPECT_EQ(Find(waiting, kShard1)->waiting_for, std::vector<std::string>{kShard0.get()});
  EXPECT_EQ(Find(waiting, kShard1)->counters.records_read, 0u);
  EXPECT_NE(PipelineStatusJson({waiting}).find("\"waitingFor\":[\"shardId-000000000000\"]"),
            std::string::npos);
  EXPECT_NE(PipelineMetricsText({waiting}).find(
                "tideline_pipeline_shards_waiting_for_parents{pipeline=\"orders-to-index\"} 2"),
            std::string::npos);

  dest_->SetOpen(true);
  ASSERT_TRUE(WaitAllDelivered());
  const auto log = dest_->log();
  ExpectShardsBefore(log, {kShard0.get()}, {kShard1.get(), kShard2.get()});
  ExpectEveryKeyInOrder({log});
  ASSERT_TRUE(WaitShardState(*p, kShard0, "finished"));
  EXPECT_EQ(Find(p->GetStatus(), kShard1)->state, "reading");
  // The parent's checkpoint is at its end: durable "shard end".
  auto info = store_->DescribeStream(kStream);
  ASSERT_TRUE(info.ok());
  auto cp = store_->GetCheckpoint(CheckpointOwner(options_.name), kStream, kShard0);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->offset.get(), info->shards[0].ending_offset.get());
}

TEST_F(LineageTest, MergedChildWaitsForBothParents) {
  ASSERT_TRUE(store_->CreateStream(kStream, 2).ok());
  Put(40);  // both parents hold a backlog when the pipeline starts
  ASSERT_TRUE(store_->MergeShards(kStream, kShard0, kShard1).ok());
  Put(20);
  auto p = Start(/*open=*/false);
  ASSERT_TRUE(WaitShardState(*p, kShard2, "waiting_for_parents"));
  EXPECT_EQ(Find(p->GetStatus(), kShard2)->waiting_for,
            (std::vector<std::string>{kShard0.get(), kShard1.get()}));
  dest_->SetOpen(true);
  ASSERT_TRUE(WaitAllDelivered());
  const auto log = dest_->log();
  ExpectShardsBefore(log, {kShard0.get(), kShard1.get()}, {kShard2.get()});
  ExpectEveryKeyInOrder({log});
}

// Without lineage the children's few records would be read at once and overtake the parent's
// long backlog; with it they come after, also through chains of splits and merges.
TEST_F(LineageTest, ChainsOfSplitsAndMergesKeepEveryKeyInOrder) {
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  Put(200);
  ASSERT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());  // -> 1, 2
  Put(5);
  ASSERT_TRUE(store_->SplitShard(kStream, kShard1, Half() / 2).ok());  // -> 3, 4
  Put(5);
  ASSERT_TRUE(store_->MergeShards(kStream, ShardId("shardId-000000000004"), kShard2).ok());  // -> 5
  Put(5);
  auto p = Start();
  ASSERT_TRUE(WaitAllDelivered());
  const auto log = dest_->log();
  ExpectEveryKeyInOrder({log});
  ExpectShardsBefore(log, {kShard0.get()},
                     {kShard1.get(), kShard2.get(), kShard3.get(), "shardId-000000000004",
                      "shardId-000000000005"});
  ExpectShardsBefore(log, {kShard1.get(), kShard2.get(), "shardId-000000000004"},
                     {"shardId-000000000005"});
  ExpectShardsBefore(log, {kShard1.get()}, {kShard3.get()});
}

// UpdateShardCount makes short-lived empty shards between the old and the new ones: their
// children still wait for the real ancestors behind them.
TEST_F(LineageTest, UpdateShardCountChildrenWaitThroughItsEmptyIntermediateShards) {
  ASSERT_TRUE(store_->CreateStream(kStream, 2).ok());
  Put(100);
  auto scaled = store_->UpdateShardCount(kStream, 3, storage::ScalingType::kUniformScaling);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  Put(10);
  scaled = store_->UpdateShardCount(kStream, 2, storage::ScalingType::kUniformScaling);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  Put(10);
  auto info = store_->DescribeStream(kStream);
  ASSERT_TRUE(info.ok());
  bool has_empty_intermediate = false;
  for (const auto& shard : info->shards)
    has_empty_intermediate |= shard.closed && shard.ending_offset.get() == 0;
  ASSERT_TRUE(has_empty_intermediate) << "the scaling made no short-lived shard";

  // While the first shards' records are held, every later shard waits, the open ones behind
  // the empty ones (whose checkpoints are at their end from the start).
  auto p = Start(/*open=*/false);
  ASSERT_TRUE(PollUntil([&] {
    const PipelineStatus s = p->GetStatus();
    for (const auto& shard : info->shards) {
      const ShardStatus* sh = Find(s, shard.id);
      const bool child = !shard.parent_shard_id.empty();
      if (sh == nullptr || (child && sh->state != "waiting_for_parents")) return false;
    }
    return true;
  }));
  dest_->SetOpen(true);
  ASSERT_TRUE(WaitAllDelivered());
  const auto log = dest_->log();
  ExpectEveryKeyInOrder({log});
  ExpectShardsBefore(
      log, {kShard0.get(), kShard1.get()},
      {info->shards.back().id.get(), info->shards[info->shards.size() - 2].id.get()});
  // Every closed shard ends finished, the open ones read on.
  ASSERT_TRUE(PollUntil([&] {
    const PipelineStatus s = p->GetStatus();
    for (const auto& shard : info->shards) {
      const ShardStatus* sh = Find(s, shard.id);
      if (sh == nullptr || sh->state != (shard.closed ? "finished" : "reading")) return false;
    }
    return true;
  }));
}

TEST_F(LineageTest, ParentRemovedByRetentionCountsAsFinished) {
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  Put(10);
  ASSERT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());
  store_.clock().AdvanceMs(int64_t{25} * 3600 * 1000);  // past the 24 h retention
  auto trimmed = store_->TrimExpired();
  ASSERT_TRUE(trimmed.ok()) << trimmed.status().ToString();
  auto info = store_->DescribeStream(kStream);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->shards.size(), 2u) << "the parent should be gone";
  ASSERT_EQ(info->shards[0].parent_shard_id, kShard0.get());
  next_.clear();  // the 10 records aged out with it
  Put(20);
  auto p = Start();
  ASSERT_TRUE(WaitAllDelivered());
  ExpectEveryKeyInOrder({dest_->log()});
  for (const ShardStatus& sh : p->GetStatus().shards)
    EXPECT_EQ(sh.state, "reading") << sh.shard_id;
}

TEST_F(LineageTest, RestartWhileChildrenWaitResumesInTheSameOrderWithoutRereadingParents) {
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  auto p = Start(/*open=*/false);
  Put(50);
  ASSERT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());
  Put(20);
  ASSERT_TRUE(WaitShardState(*p, kShard1, "waiting_for_parents"));
  p->Stop();  // the parent's first flush was never delivered
  const auto first = dest_->log();
  EXPECT_TRUE(first.empty());

  // Second run: the children still come after the whole parent.
  p = Start();
  ASSERT_TRUE(WaitAllDelivered());
  const auto second = dest_->log();
  ExpectShardsBefore(second, {kShard0.get()}, {kShard1.get(), kShard2.get()});
  ASSERT_TRUE(WaitShardState(*p, kShard0, "finished"));
  ASSERT_TRUE(PollUntil([&] {
    // Everything checkpointed: the children's records too.
    auto info = store_->DescribeStream(kStream);
    for (const auto& shard : info->shards) {
      auto cp = store_->GetCheckpoint(CheckpointOwner(options_.name), kStream, shard.id);
      if (!cp.ok() || cp->offset.get() < shard.last_offset.get()) return false;
    }
    return true;
  }));
  p->Stop();

  // Third run: the finished parent is not read again; the children carry on at once.
  Put(20);
  p = Start();
  ASSERT_TRUE(WaitAllDelivered());
  const auto third = dest_->log();
  for (const Delivered& d : third)
    EXPECT_NE(d.shard, kShard0.get()) << d.body << " of the finished parent delivered again";
  EXPECT_EQ(third.size(), 20u * keys_.size());
  ExpectEveryKeyInOrder({first, second, third});
  EXPECT_EQ(Find(p->GetStatus(), kShard0)->state, "finished");
}

TEST_F(LineageTest, ResetToTrimHorizonReadsTheParentsAgainBeforeTheChildren) {
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  Put(30);
  ASSERT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());
  Put(30);
  auto p = Start();
  ASSERT_TRUE(WaitAllDelivered());
  ASSERT_TRUE(WaitShardState(*p, kShard0, "finished"));
  const size_t first_pass = dest_->log().size();
  ASSERT_EQ(first_pass, 60 * keys_.size());

  const Status reset = p->Reset(storage::StreamPosition::TrimHorizon());
  ASSERT_TRUE(reset.ok()) << reset.ToString();
  ASSERT_TRUE(PollUntil([&] { return dest_->log().size() >= 2 * first_pass; }));
  const auto log = dest_->log();
  const std::vector<Delivered> second(log.begin() + static_cast<ptrdiff_t>(first_pass), log.end());
  ExpectShardsBefore(second, {kShard0.get()}, {kShard1.get(), kShard2.get()});
  next_.clear();  // the second pass alone holds every counter once, in order
  for (const std::string& key : keys_)
    next_[key] = 60;
  ExpectEveryKeyInOrder({second});
}

// A shard a reshard makes while a LATEST pipeline runs continues its parents: it is read from
// its first record, not from wherever LATEST was when the pipeline noticed it.
TEST_F(LineageTest, LatestPipelineReadsNewChildrenFromTheirFirstRecord) {
  options_.source.start = storage::StreamPosition::Latest();
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  Put(5);  // before the pipeline: skipped
  auto p = Start();
  ASSERT_TRUE(PollUntil([&] {
    return store_->GetCheckpoint(CheckpointOwner(options_.name), kStream, kShard0).ok();
  }));
  ASSERT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());
  Put(10);  // straight into the children, before the pipeline's next look at the stream
  ASSERT_TRUE(PollUntil([&] { return dest_->log().size() == 10 * keys_.size(); }));
  std::map<std::string, int> first_seen;
  for (const Delivered& d : dest_->log()) {
    const size_t colon = d.body.find(':');
    const std::string key = d.body.substr(0, colon);
    if (!first_seen.contains(key)) first_seen[key] = std::stoi(d.body.substr(colon + 1));
  }
  for (const std::string& key : keys_)
    EXPECT_EQ(first_seen[key], 5) << key;
}

}  // namespace
}  // namespace tideline::pipeline
