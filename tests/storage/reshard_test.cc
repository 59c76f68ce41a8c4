// Resharding (SplitShard, MergeShards, UpdateShardCount) on every Store implementation: lineage,
// routing, reads at a closed shard's end, UPDATING, limits, retention of closed shards, and
// appends racing with reshards (every acknowledged record in exactly one shard).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <rocksdb/db.h>

#include "keys.h"
#include "store_fixture.h"
#include "store_impl.h"
#include "tideline.pb.h"

namespace tideline::storage {
namespace {

const StreamName kStream("s");
const ShardId kShard2("shardId-000000000002");
const ShardId kShard3("shardId-000000000003");

HashKey Half() {
  return static_cast<HashKey>(1) << 127;
}

const ShardInfo* FindInfo(const StreamInfo& info, const std::string& id) {
  for (const ShardInfo& s : info.shards) {
    if (s.id.get() == id) return &s;
  }
  return nullptr;
}

// The invariants every committed reshard keeps: open shards cover every hash key exactly once;
// every child's parents (while kept) are closed, closed before or when it was made, and end
// below the child's first sequence number; a closed shard holds nothing past its end.
void ExpectConsistent(const StreamInfo& info) {
  std::vector<const ShardInfo*> open;
  for (const ShardInfo& s : info.shards) {
    if (!s.closed) open.push_back(&s);
    if (s.closed) {
      EXPECT_LE(s.last_offset.get(), s.ending_offset.get()) << s.id.get();
      EXPECT_EQ(s.ending_sequence_number, SequenceNumberOf(s.uid, s.ending_offset)) << s.id.get();
    }
    for (const std::string& parent_id : {s.parent_shard_id, s.adjacent_parent_shard_id}) {
      if (parent_id.empty()) continue;
      const ShardInfo* parent = FindInfo(info, parent_id);
      if (parent == nullptr) continue;  // removed by retention
      EXPECT_TRUE(parent->closed) << parent_id << " is a parent of " << s.id.get();
      EXPECT_LT(parent->ending_sequence_number.get(), s.starting_sequence_number.get());
      EXPECT_LT(parent->id.get(), s.id.get());
    }
  }
  ASSERT_FALSE(open.empty());
  std::sort(open.begin(), open.end(), [](const ShardInfo* a, const ShardInfo* b) {
    return a->hash_range.start < b->hash_range.start;
  });
  EXPECT_EQ(open.front()->hash_range.start, HashKey{0});
  EXPECT_EQ(open.back()->hash_range.end, kMaxHashKey);
  for (size_t i = 0; i + 1 < open.size(); ++i) {
    EXPECT_EQ(open[i]->hash_range.end + 1, open[i + 1]->hash_range.start)
        << open[i]->id.get() << " / " << open[i + 1]->id.get();
  }
}

}  // namespace

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

TYPED_TEST(StoreContract, SplitShardClosesTheParentAndMakesTwoChildren) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 1).ok());
  auto before = this->Put("s", {"a", "b", "c"});
  ASSERT_EQ(before.size(), 3u);
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard0, Half()).ok());
  this->ReopenIfDurable();
  auto info = this->store_->DescribeStream(kStream);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->shards.size(), 3u);
  ExpectConsistent(*info);
  const ShardInfo& parent = info->shards[0];
  EXPECT_TRUE(parent.closed);
  EXPECT_EQ(parent.ending_sequence_number, before.back().sequence_number);
  EXPECT_EQ(parent.ending_offset.get(), 3u);
  const ShardInfo& low = info->shards[1];
  const ShardInfo& high = info->shards[2];
  EXPECT_EQ(low.id, kShard1);
  EXPECT_EQ(high.id, kShard2);
  EXPECT_EQ(low.parent_shard_id, kShard0.get());
  EXPECT_EQ(high.parent_shard_id, kShard0.get());
  EXPECT_TRUE(low.adjacent_parent_shard_id.empty());
  EXPECT_EQ(low.hash_range.start, HashKey{0});
  EXPECT_EQ(low.hash_range.end, Half() - 1);
  EXPECT_EQ(high.hash_range.start, Half());
  EXPECT_EQ(high.hash_range.end, kMaxHashKey);
  EXPECT_FALSE(low.closed);
  EXPECT_EQ(info->OpenShardCount(), 2u);

  // New records go to the children by hash key; the parent keeps exactly what it had.
  auto low_rec = this->Put("s", {"x"}, "5");
  auto high_rec = this->Put("s", {"y"}, HashKeyToDecimal(Half()));
  ASSERT_EQ(low_rec.size(), 1u);
  ASSERT_EQ(high_rec.size(), 1u);
  EXPECT_EQ(low_rec[0].shard_id, kShard1);
  EXPECT_EQ(high_rec[0].shard_id, kShard2);
  EXPECT_GT(low_rec[0].sequence_number.get(), before.back().sequence_number.get());
  EXPECT_EQ(this->ReadAll("s", kShard0.get()).size(), 3u);
}

TYPED_TEST(StoreContract, SplitShardRejectsKeysNotStrictlyInsideTheParent) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 2).ok());
  auto info = this->store_->DescribeStream(kStream);
  const HashKeyRange r = info->shards[1].hash_range;
  for (HashKey bad : {r.start, r.start + 1, r.end, r.end + 1, HashKey{5}}) {
    const Status st = this->store_->SplitShard(kStream, kShard1, bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << HashKeyToDecimal(bad);
  }
  EXPECT_EQ(this->store_->SplitShard(kStream, ShardId("shardId-000000000007"), Half()).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(this->store_->SplitShard(StreamName("nope"), kShard0, Half()).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard1, r.start + 2).ok());
  // The parent is closed now: neither split nor merged again.
  EXPECT_EQ(this->store_->SplitShard(kStream, kShard1, r.start + 10).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->MergeShards(kStream, kShard0, kShard1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->DescribeStream(kStream)->shards.size(), 4u);
}

TYPED_TEST(StoreContract, MergeShardsNeedsTwoAdjacentOpenShards) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 3).ok());
  EXPECT_EQ(this->store_->MergeShards(kStream, kShard0, kShard2).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->MergeShards(kStream, kShard1, kShard1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->MergeShards(kStream, kShard1, ShardId("shardId-000000000009")).code(),
            StatusCode::kNotFound);
  auto a = this->Put("s", {"a"}, "0");
  ASSERT_TRUE(this->store_->MergeShards(kStream, kShard1, kShard0).ok());
  this->ReopenIfDurable();
  auto info = this->store_->DescribeStream(kStream);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->shards.size(), 4u);
  ExpectConsistent(*info);
  const ShardInfo& child = info->shards[3];
  EXPECT_EQ(child.id, kShard3);
  EXPECT_EQ(child.parent_shard_id, kShard1.get());
  EXPECT_EQ(child.adjacent_parent_shard_id, kShard0.get());
  EXPECT_EQ(child.hash_range.start, info->shards[0].hash_range.start);
  EXPECT_EQ(child.hash_range.end, info->shards[1].hash_range.end);
  EXPECT_TRUE(info->shards[0].closed);
  EXPECT_TRUE(info->shards[1].closed);
  EXPECT_EQ(info->shards[0].ending_sequence_number, a[0].sequence_number);
  EXPECT_EQ(info->shards[1].ending_offset.get(), 0u);  // closed empty
  EXPECT_EQ(this->Put("s", {"b"}, "0")[0].shard_id, kShard3);
}

TYPED_TEST(StoreContract, ReadingAClosedShardToItsEndNamesItsChildren) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 1).ok());
  this->Put("s", {"a", "b"});
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard0, Half()).ok());
  const auto noop = [](const RecordView&) {};
  auto open_read = this->store_->Read(kStream, kShard1, Offset(1), {}, noop);
  ASSERT_TRUE(open_read.ok());
  EXPECT_FALSE(open_read->shard_end);  // an open shard never ends

  auto first = this->store_->Read(kStream, kShard0, Offset(1), {1, 1 << 20}, noop);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->records, 1u);
  EXPECT_FALSE(first->shard_end);  // one record still to read
  auto rest = this->store_->Read(kStream, kShard0, first->next, {}, noop);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->records, 1u);
  EXPECT_TRUE(rest->shard_end);
  ASSERT_EQ(rest->children.size(), 2u);
  EXPECT_EQ(rest->children[0].id, kShard1);
  EXPECT_EQ(rest->children[1].id, kShard2);
  EXPECT_EQ(rest->children[1].parents, std::vector<ShardId>{kShard0});
  EXPECT_EQ(rest->children[1].hash_range.start, Half());
  auto again = this->store_->Read(kStream, kShard0, rest->next, {}, noop);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->shard_end);
  EXPECT_EQ(again->records, 0u);

  // Waiting at the end of a closed shard returns at once instead of after the timeout.
  const auto started = std::chrono::steady_clock::now();
  auto waited = this->store_->WaitForRecords(kStream, kShard0, Offset(2), std::chrono::minutes(5));
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(waited->get(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
}

TYPED_TEST(StoreContract, AWaiterAtTheParentsEndIsWokenByTheReshard) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 1).ok());
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    auto r = this->store_->WaitForRecords(kStream, kShard0, Offset(0), std::chrono::minutes(5));
    EXPECT_TRUE(r.ok());
    returned = true;
  });
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard0, Half()).ok());
  waiter.join();  // hangs (and the test times out) if the reshard did not wake it
  EXPECT_TRUE(returned.load());
}

TYPED_TEST(StoreContract, AStreamIsUpdatingForTheConfiguredDelayAfterAReshard) {
  this->options_.reshard_updating_delay = std::chrono::milliseconds(2000);
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 2).ok());
  EXPECT_EQ(this->store_->DescribeStream(kStream)->status, StreamStatus::kActive);
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard0, Half() / 2).ok());
  EXPECT_EQ(this->store_->DescribeStream(kStream)->status, StreamStatus::kUpdating);
  EXPECT_EQ(this->store_->MergeShards(kStream, kShard2, kShard3).code(),
            StatusCode::kResourceInUse);
  EXPECT_EQ(
      this->store_->UpdateShardCount(kStream, 4, ScalingType::kUniformScaling).status().code(),
      StatusCode::kResourceInUse);
  this->clock_.AdvanceMs(1999);
  EXPECT_EQ(this->store_->DescribeStream(kStream)->status, StreamStatus::kUpdating);
  this->clock_.AdvanceMs(1);
  EXPECT_EQ(this->store_->DescribeStream(kStream)->status, StreamStatus::kActive);
  EXPECT_TRUE(this->store_->MergeShards(kStream, kShard2, kShard3).ok());
}

TYPED_TEST(StoreContract, UpdateShardCountMakesEvenRangesWithinHalfAndDouble) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 3).ok());
  this->Put("s", {"a", "b", "c", "d", "e", "f"});
  EXPECT_EQ(
      this->store_->UpdateShardCount(kStream, 7, ScalingType::kUniformScaling).status().code(),
      StatusCode::kLimitExceeded);
  EXPECT_EQ(
      this->store_->UpdateShardCount(kStream, 1, ScalingType::kUniformScaling).status().code(),
      StatusCode::kLimitExceeded);
  EXPECT_EQ(
      this->store_->UpdateShardCount(kStream, 0, ScalingType::kUniformScaling).status().code(),
      StatusCode::kInvalidArgument);
  for (uint32_t target : {5u, 6u, 3u, 2u, 4u, 4u}) {
    auto change = this->store_->UpdateShardCount(kStream, target, ScalingType::kUniformScaling);
    ASSERT_TRUE(change.ok()) << target << ": " << change.status().ToString();
    EXPECT_EQ(change->target, target);
    this->ReopenIfDurable();
    auto info = this->store_->DescribeStream(kStream);
    ASSERT_TRUE(info.ok());
    ExpectConsistent(*info);
    ASSERT_EQ(info->OpenShardCount(), target);
    const auto even = EvenHashKeyRanges(target);
    size_t j = 0;
    std::vector<const ShardInfo*> open;
    for (const ShardInfo& s : info->shards) {
      if (!s.closed) open.push_back(&s);
    }
    std::sort(open.begin(), open.end(), [](const ShardInfo* a, const ShardInfo* b) {
      return a->hash_range.start < b->hash_range.start;
    });
    for (const ShardInfo* s : open) {
      EXPECT_EQ(s->hash_range.start, even[j].start);
      EXPECT_EQ(s->hash_range.end, even[j].end);
      ++j;
    }
  }
  // Records written before are all still readable where they were.
  size_t total = 0;
  const auto after = this->store_->DescribeStream(kStream);
  ASSERT_TRUE(after.ok());
  for (const ShardInfo& s : after->shards)
    total += this->ReadAll("s", s.id.get()).size();
  EXPECT_EQ(total, 6u);
}

TYPED_TEST(StoreContract, UpdateShardCountIsLimitedToTenScalingsADay) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 1).ok());
  for (int i = 0; i < kMaxScalingsPerDay; ++i) {
    ASSERT_TRUE(
        this->store_->UpdateShardCount(kStream, i % 2 == 0 ? 2 : 1, ScalingType::kUniformScaling)
            .ok())
        << i;
  }
  EXPECT_EQ(
      this->store_->UpdateShardCount(kStream, 2, ScalingType::kUniformScaling).status().code(),
      StatusCode::kLimitExceeded);
  // SplitShard is not a scaling.
  auto info = this->store_->DescribeStream(kStream);
  ASSERT_EQ(info->OpenShardCount(), 1u);
  const ShardId last_open = info->shards.back().id;
  EXPECT_TRUE(this->store_->SplitShard(kStream, last_open, Half()).ok());
  this->clock_.AdvanceMs(24 * 3600 * 1000);
  EXPECT_TRUE(this->store_->UpdateShardCount(kStream, 3, ScalingType::kUniformScaling).ok());
}

TYPED_TEST(StoreContract, ReshardsCountOpenShardsAgainstTheShardLimit) {
  this->options_.shard_limit = 3;
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 2).ok());
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard0, Half() / 2).ok());  // 3 open
  EXPECT_EQ(this->store_->SplitShard(kStream, kShard1, Half() + Half() / 2).code(),
            StatusCode::kLimitExceeded);
  EXPECT_EQ(this->store_->CreateStream(StreamName("t"), 1).code(), StatusCode::kLimitExceeded);
  // Closed shards do not count: the merge leaves 2 open, so one more shard fits.
  ASSERT_TRUE(this->store_->MergeShards(kStream, kShard2, kShard3).ok());
  ASSERT_TRUE(this->store_->CreateStream(StreamName("t"), 1).ok());
  EXPECT_EQ(this->store_->CreateStream(StreamName("u"), 1).code(), StatusCode::kLimitExceeded);
}

TYPED_TEST(StoreContract, RetentionRemovesClosedShardsOnceTheirRecordsAgedOut) {
  this->ReopenWithoutUpdatingDelay();
  this->hooks_.retention_override = std::chrono::milliseconds(10'000);
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 1).ok());
  this->Put("s", {"a"});
  ASSERT_TRUE(
      this->store_
          ->SetCheckpoint(
              CheckpointOwner("app"), kStream, kShard0,
              SequenceNumberOf(this->store_->DescribeStream(kStream)->shards[0].uid, Offset(1)))
          .ok());
  this->clock_.AdvanceMs(5'000);
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard0, Half()).ok());
  this->clock_.AdvanceMs(8'000);  // the record aged out; the shard closed only 8 s ago
  ASSERT_TRUE(this->store_->TrimExpired().ok());
  auto info = this->store_->DescribeStream(kStream);
  ASSERT_EQ(info->shards.size(), 3u);
  EXPECT_EQ(info->shards[0].trim_offset.get(), 2u);
  this->clock_.AdvanceMs(3'000);  // closed 11 s ago
  ASSERT_TRUE(this->store_->TrimExpired().ok());
  this->ReopenIfDurable();
  info = this->store_->DescribeStream(kStream);
  ASSERT_EQ(info->shards.size(), 2u);
  EXPECT_EQ(info->shards[0].id, kShard1);
  EXPECT_EQ(info->shards[0].parent_shard_id, kShard0.get());  // lineage names it still
  ExpectConsistent(*info);
  const auto noop = [](const RecordView&) {};
  EXPECT_EQ(this->store_->Read(kStream, kShard0, Offset(1), {}, noop).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(this->store_->GetCheckpoint(CheckpointOwner("app"), kStream, kShard0).status().code(),
            StatusCode::kNotFound);
  // The children keep their shard numbers; the next reshard counts on from them.
  ASSERT_TRUE(this->store_->SplitShard(kStream, kShard1, Half() / 2).ok());
  EXPECT_EQ(this->store_->DescribeStream(kStream)->shards.back().id.get(), "shardId-000000000004");
}

// Appends race with reshards: every acknowledged record is stored exactly once, in the shard
// and at the sequence number it was acknowledged with, at or below a closed shard's end, and in
// the shard whose range held its hash key when it was written.
TYPED_TEST(StoreContract, AppendsRacingWithReshardsAreInExactlyOneShard) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(kStream, 2).ok());
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::pair<std::string, std::string>> acked;  // data -> (shard, seq)
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937_64 rng(w);
      for (int n = 0; !stop.load() || n < 20; ++n) {
        std::vector<std::string> data, keys;
        for (int i = 0; i < 8; ++i) {
          data.push_back("w" + std::to_string(w) + "-" + std::to_string(n) + "-" +
                         std::to_string(i));
          keys.push_back(std::to_string(rng()) + std::to_string(rng() % 1000));
        }
        std::vector<AppendRecord> records;
        for (int i = 0; i < 8; ++i)
          records.push_back({"pk", keys[i], data[i]});
        auto r = this->store_->Append(kStream, records);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::lock_guard<std::mutex> lock(mu);
        for (int i = 0; i < 8; ++i)
          acked[data[i]] = {(*r)[i].shard_id.get(), (*r)[i].sequence_number.get()};
      }
    });
  }
  for (uint32_t target : {3u, 5u, 4u, 2u, 3u, 6u}) {
    ASSERT_TRUE(this->store_->UpdateShardCount(kStream, target, ScalingType::kUniformScaling).ok());
  }
  // More reshards than the daily scalings allow: split the first open shard and merge it back.
  for (int round = 0; round < 15; ++round) {
    auto now = this->store_->DescribeStream(kStream);
    ASSERT_TRUE(now.ok());
    const ShardInfo* first = nullptr;
    for (const ShardInfo& s : now->shards) {
      if (!s.closed && s.hash_range.start == 0) first = &s;
    }
    ASSERT_NE(first, nullptr);
    const HashKey mid =
        first->hash_range.start + (first->hash_range.end - first->hash_range.start) / 2;
    ASSERT_TRUE(this->store_->SplitShard(kStream, first->id, mid).ok());
    const uint32_t next = static_cast<uint32_t>(now->shards.size());
    ASSERT_TRUE(this->store_
                    ->MergeShards(kStream, ShardId(keys::ShardIdForIndex(next)),
                                  ShardId(keys::ShardIdForIndex(next + 1)))
                    .ok());
  }
  stop = true;
  for (auto& t : writers)
    t.join();
  this->ReopenIfDurable();
  if (this->HasFatalFailure()) return;  // Open refused the stream (records past a parent's end)
  auto info = this->store_->DescribeStream(kStream);
  ASSERT_TRUE(info.ok());
  ExpectConsistent(*info);
  std::map<std::string, std::pair<std::string, std::string>> stored;
  for (const ShardInfo& s : info->shards) {
    const auto noop_limits = ReadLimits{};
    Offset next(1);
    for (;;) {
      auto r = this->store_->Read(kStream, s.id, next, noop_limits, [&](const RecordView& v) {
        EXPECT_TRUE(
            stored
                .emplace(std::string(v.data),
                         std::make_pair(s.id.get(), SequenceNumberOf(s.uid, v.offset).get()))
                .second)
            << "stored twice: " << v.data;
        if (s.closed) {
          EXPECT_LE(v.offset.get(), s.ending_offset.get());
        }
        const HashKey key = *ParseHashKey(v.explicit_hash_key);
        // A child's range (a parent's, for a record written before the reshard) holds it.
        EXPECT_TRUE(key >= s.hash_range.start && key <= s.hash_range.end) << s.id.get();
      });
      ASSERT_TRUE(r.ok());
      if (r->records == 0) break;
      next = r->next;
    }
  }
  EXPECT_EQ(stored, acked);
  EXPECT_GT(acked.size(), 0u);
}

// A reshard whose write fails changes nothing: same shards, appends still go to the parent,
// and the store reopens as it was.
TEST_F(StoreTest, AFailedReshardWriteChangesNothing) {
  auto fail = std::make_shared<std::atomic<bool>>(false);
  hooks_.write_fault = [fail]() -> Status {
    return fail->load() ? Status::IOError("injected") : Status::Ok();
  };
  ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(store_->CreateStream(kStream, 1).ok());
  Put("s", {"a"});
  fail->store(true);
  EXPECT_EQ(store_->SplitShard(kStream, kShard0, Half()).code(), StatusCode::kIOError);
  fail->store(false);
  auto info = store_->DescribeStream(kStream);
  ASSERT_EQ(info->shards.size(), 1u);
  EXPECT_FALSE(info->shards[0].closed);
  EXPECT_EQ(Put("s", {"b"})[0].shard_id, kShard0);
  Reopen();
  info = store_->DescribeStream(kStream);
  ASSERT_EQ(info->shards.size(), 1u);
  EXPECT_EQ(info->shards[0].last_offset.get(), 2u);
  // And the reshard goes through once the disk works.
  EXPECT_TRUE(store_->SplitShard(kStream, kShard0, Half()).ok());
}

// Open trusts only committed metadata and checks it: a stream whose open shards would leave a
// hash key unowned is refused, not served.
TEST_F(StoreTest, OpenRefusesAStreamWhoseOpenShardsLeaveAGap) {
  ASSERT_TRUE(store_->CreateStream(kStream, 2).ok());
  store_.Close();
  {
    rocksdb::DBOptions db_options;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    ASSERT_TRUE(BuildRocksDbOptions(options_, &db_options, &cfs).ok());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(db_options, options_.data_dir.string(), cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    ASSERT_TRUE(db->Get({}, handles[1], keys::StreamKey("s"), &value).ok());
    proto::Stream meta;
    ASSERT_TRUE(meta.ParseFromString(value));
    meta.mutable_shards(1)->set_closed(true);  // closed, and no child owns its range
    ASSERT_TRUE(db->Put({}, handles[1], keys::StreamKey("s"), meta.SerializeAsString()).ok());
    for (auto* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  const Status st = store_.Open();
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
}

}  // namespace tideline::storage
