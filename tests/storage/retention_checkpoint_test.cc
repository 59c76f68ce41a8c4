// Retention trimming (manual clock + StoreHooks::retention_override) and checkpoints.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "storage/sequence_number.h"
#include "store_fixture.h"

namespace tideline::storage {
namespace {

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

// Retention tests keep records 10 s (StoreHooks::retention_override), not a day.
constexpr std::chrono::milliseconds kRetention{10'000};

TYPED_TEST(StoreContract, TrimRemovesOnlyExpiredRecordsAndMovesTrimHorizon) {
  this->hooks_.retention_override = kRetention;
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a", "b"});  // offsets 1, 2 at t
  this->clock_.StepWallMs(6'000);
  this->Put("s", {"c"});           // offset 3 at t + 6 s
  this->clock_.StepWallMs(5'000);  // now t + 11 s: 1 and 2 are past 10 s, 3 is not
  auto removed = this->store_->TrimExpired();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2u);
  auto records = this->ReadAll("s", kShard0.get());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].first, 3u);
  EXPECT_EQ(this->store_
                ->ResolvePosition(StreamName("s"), kShard0, {StartingPosition::kTrimHorizon, "", 0})
                ->get(),
            3u);
  // Reading from a trimmed offset moves up to the horizon.
  auto r = this->store_->Read(StreamName("s"), kShard0, Offset(1), ReadLimits{},
                              [](const RecordView&) {});
  EXPECT_EQ(r->next.get(), 4u);
  EXPECT_EQ(*this->store_->TrimExpired(), 0u);

  this->ReopenIfDurable();
  auto info = this->store_->DescribeStream(StreamName("s"));
  EXPECT_EQ(info->shards[0].trim_offset.get(), 3u);
  EXPECT_EQ(info->shards[0].last_offset.get(), 3u);
  EXPECT_EQ(this->ReadAll("s", kShard0.get()).size(), 1u);
}

TYPED_TEST(StoreContract, FullyTrimmedShardKeepsCountingOffsets) {
  this->hooks_.retention_override = kRetention;
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a", "b", "c"});
  this->clock_.StepWallMs(20'000);
  EXPECT_EQ(*this->store_->TrimExpired(), 3u);
  this->ReopenIfDurable();
  auto info = this->store_->DescribeStream(StreamName("s"));
  EXPECT_EQ(info->shards[0].trim_offset.get(), 4u);
  EXPECT_EQ(info->shards[0].last_offset.get(), 3u);
  auto acked = this->Put("s", {"d"});
  EXPECT_EQ(DecodeSequenceNumber(acked[0].sequence_number.get())->offset, 4u);
  // An old sequence number still resolves (it was issued) and lands on the horizon.
  auto old = SequenceNumberOf(info->shards[0].uid, Offset(2));
  EXPECT_EQ(this->store_
                ->ResolvePosition(StreamName("s"), kShard0,
                                  {StartingPosition::kAtSequenceNumber, old.get(), 0})
                ->get(),
            4u);
}

TYPED_TEST(StoreContract, CheckpointsSetGetListAndKeep) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  auto acked = this->Put("s", {"a", "a", "a"});  // all on shard 0
  ASSERT_EQ(acked[0].shard_id, kShard0);
  EXPECT_EQ(
      this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0).status().code(),
      StatusCode::kNotFound);
  ASSERT_TRUE(this->store_
                  ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0,
                                  acked[1].sequence_number)
                  .ok());
  ASSERT_TRUE(this->store_
                  ->SetCheckpoint(CheckpointOwner("other"), StreamName("s"), kShard0,
                                  acked[2].sequence_number)
                  .ok());
  auto cp = this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->offset.get(), 2u);
  EXPECT_EQ(cp->sequence_number, acked[1].sequence_number);
  EXPECT_EQ(cp->updated_ms, this->clock_.NowMs());
  EXPECT_EQ(this->store_->ListCheckpoints(CheckpointOwner("")).size(), 2u);
  auto mine = this->store_->ListCheckpoints(CheckpointOwner("app"));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].shard, kShard0);
  EXPECT_EQ(mine[0].stream.get(), "s");
  this->ReopenIfDurable();
  cp = this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->offset.get(), 2u);
  EXPECT_EQ(this->store_->ListCheckpoints(CheckpointOwner("ap")).size(), 0u)
      << "prefix of a name must not match";
}

TYPED_TEST(StoreContract, SetCheckpointRejectsForeignAndUnissuedSequenceNumbers) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  auto acked = this->Put("s", {"a"});
  const auto pos = *DecodeSequenceNumber(acked[0].sequence_number.get());
  EXPECT_EQ(this->store_
                ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard1,
                                acked[0].sequence_number)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_
                ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0,
                                EncodeSequenceNumber({pos.shard_uid, 2}))
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      this->store_
          ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0, SequenceNumber("42"))
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      this->store_
          ->SetCheckpoint(CheckpointOwner(""), StreamName("s"), kShard0, acked[0].sequence_number)
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_
                ->SetCheckpoint(CheckpointOwner("app"), StreamName("x"), kShard0,
                                acked[0].sequence_number)
                .code(),
            StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, SetCheckpointsWritesAllShardsOrNone) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  auto a = this->Put("s", {"a"}, "0");
  auto b = this->Put("s", {"b"}, "340282366920938463463374607431768211455");  // top of shard 1
  ASSERT_EQ(b[0].shard_id, kShard1);
  const Store::ShardCheckpoint both[] = {{kShard0, a[0].sequence_number},
                                         {kShard1, b[0].sequence_number}};
  ASSERT_TRUE(this->store_->SetCheckpoints(CheckpointOwner("app"), StreamName("s"), both).ok());
  EXPECT_EQ(this->store_->ListCheckpoints(CheckpointOwner("app")).size(), 2u);
  // One bad entry (shard 0's sequence number on shard 1) rejects the whole call.
  auto c = this->Put("s", {"c"}, "0");
  const Store::ShardCheckpoint bad[] = {{kShard0, c[0].sequence_number},
                                        {kShard1, c[0].sequence_number}};
  EXPECT_EQ(this->store_->SetCheckpoints(CheckpointOwner("app"), StreamName("s"), bad).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0)->offset.get(),
      1u);
  this->ReopenIfDurable();
  EXPECT_EQ(this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard1)
                ->sequence_number,
            b[0].sequence_number);
}

TYPED_TEST(StoreContract, WaitForRecordsReturnsOnceTheShardAdvances) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a"});
  // Already past `after`: no wait at all.
  auto now =
      this->store_->WaitForRecords(StreamName("s"), kShard0, Offset(0), std::chrono::hours(1));
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->get(), 1u);
  // A waiter blocked on offset 1 is released by the next append (an hour-long timeout would
  // hang the test if the wake-up were lost).
  std::promise<Result<Offset>> waited;
  std::thread waiter([&] {
    waited.set_value(
        this->store_->WaitForRecords(StreamName("s"), kShard0, Offset(1), std::chrono::hours(1)));
  });
  auto future = waited.get_future();
  while (future.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
    this->Put("s", {"b"});  // the waiter may not be waiting yet: keep appending until it returns
  }
  waiter.join();
  auto after = future.get();
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->get(), 2u);
}

TYPED_TEST(StoreContract, WaitForRecordsEndsOnWakeAndOnDeletion) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  auto timed_out = this->store_->WaitForRecords(StreamName("s"), kShard0, Offset(0),
                                                std::chrono::milliseconds(1));
  ASSERT_TRUE(timed_out.ok());
  EXPECT_EQ(timed_out->get(), 0u);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    auto r =
        this->store_->WaitForRecords(StreamName("s"), kShard0, Offset(0), std::chrono::hours(1));
    EXPECT_TRUE(r.ok());
    done = true;
  });
  while (!done)
    this->store_->WakeWaiters();
  waiter.join();
  std::promise<Status> deleted;
  std::thread gone([&] {
    deleted.set_value(
        this->store_->WaitForRecords(StreamName("s"), kShard0, Offset(0), std::chrono::hours(1))
            .status());
  });
  ASSERT_TRUE(this->store_->DeleteStream(StreamName("s")).ok());
  auto f = deleted.get_future();
  // Deletion wakes waiters; a waiter that arrives after it finds the stream gone at once.
  EXPECT_EQ(f.get().code(), StatusCode::kNotFound);
  gone.join();
  EXPECT_EQ(this->store_->WaitForRecords(StreamName("s"), kShard0, Offset(0), std::chrono::hours(1))
                .status()
                .code(),
            StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, CheckpointAtTimestampPointsJustBeforeFirstRecordAtOrAfter) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  const int64_t t0 = this->clock_.NowMs();
  this->Put("s", {"a", "b"});
  this->clock_.StepWallMs(100);
  this->Put("s", {"c"});
  ASSERT_TRUE(
      this->store_
          ->SetCheckpointAtTimestamp(CheckpointOwner("app"), StreamName("s"), kShard0, t0 + 50)
          .ok());
  auto cp = this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0);
  EXPECT_EQ(cp->offset.get(), 2u);
  // Resuming after the checkpoint gives the first record at or after the timestamp.
  EXPECT_EQ(
      this->store_
          ->ResolvePosition(StreamName("s"), kShard0,
                            {StartingPosition::kAfterSequenceNumber, cp->sequence_number.get(), 0})
          ->get(),
      3u);
  ASSERT_TRUE(
      this->store_
          ->SetCheckpointAtTimestamp(CheckpointOwner("app"), StreamName("s"), kShard0, t0 - 1)
          .ok());
  cp = this->store_->GetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0);
  EXPECT_EQ(cp->offset.get(), 0u);
  EXPECT_EQ(
      this->store_
          ->ResolvePosition(StreamName("s"), kShard0,
                            {StartingPosition::kAfterSequenceNumber, cp->sequence_number.get(), 0})
          ->get(),
      1u);
}

}  // namespace
}  // namespace tideline::storage
