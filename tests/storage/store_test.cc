// Streams, routing, reads and every starting position, on every Store implementation.
#include <gtest/gtest.h>

#include "storage/hash_key.h"
#include "storage/sequence_number.h"
#include "store_fixture.h"

namespace tideline::storage {
namespace {

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

TEST(StartingPositionTest, NamesRoundTripAsKinesisSpellsThem) {
  for (const StartingPosition p :
       {StartingPosition::kTrimHorizon, StartingPosition::kLatest,
        StartingPosition::kAtSequenceNumber, StartingPosition::kAfterSequenceNumber,
        StartingPosition::kAtTimestamp}) {
    EXPECT_EQ(ParseStartingPosition(StartingPositionName(p)), p);
  }
  EXPECT_EQ(StartingPositionName(StartingPosition::kAfterSequenceNumber), "AFTER_SEQUENCE_NUMBER");
  EXPECT_EQ(ParseStartingPosition("trim_horizon"), std::nullopt);
  EXPECT_EQ(ParseStartingPosition(""), std::nullopt);
}

TYPED_TEST(StoreContract, CreateStreamValidatesNameAndShardCount) {
  EXPECT_EQ(this->store_->CreateStream(StreamName(""), 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->CreateStream(StreamName(std::string(129, 'a')), 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->CreateStream(StreamName("bad/name"), 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->CreateStream(StreamName("ok"), 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->CreateStream(StreamName("ok"), 100'001).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(this->store_->CreateStream(StreamName(std::string(128, 'a')), 1).ok());
  EXPECT_TRUE(this->store_->CreateStream(StreamName("a-b_c.D9"), 2).ok());
  EXPECT_EQ(this->store_->CreateStream(StreamName("a-b_c.D9"), 2).code(),
            StatusCode::kAlreadyExists);
}

TYPED_TEST(StoreContract, ShardLimitIsStoreWideAndCheckedBeforeCreating) {
  this->options_.shard_limit = 5;
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("a"), 3).ok());
  EXPECT_EQ(this->store_->CreateStream(StreamName("b"), 3).code(), StatusCode::kLimitExceeded);
  EXPECT_FALSE(this->store_->DescribeStream(StreamName("b")).ok());
  ASSERT_TRUE(this->store_->CreateStream(StreamName("b"), 2).ok());
  ASSERT_TRUE(this->store_->DeleteStream(StreamName("a")).ok());
  EXPECT_TRUE(this->store_->CreateStream(StreamName("c"), 3).ok());
}

TYPED_TEST(StoreContract, ListAndDescribeStreams) {
  for (const char* n : {"b", "a", "c"})
    ASSERT_TRUE(this->store_->CreateStream(StreamName(n), 3).ok());
  auto all = this->store_->ListStreams("", 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].get(), "a");
  EXPECT_EQ(all[2].get(), "c");
  auto page = this->store_->ListStreams("a", 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].get(), "b");

  auto info = this->store_->DescribeStream(StreamName("b"));
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->shards.size(), 3u);
  EXPECT_EQ(info->shards[2].id.get(), "shardId-000000000002");
  EXPECT_EQ(info->shards[0].hash_range.start, HashKey{0});
  EXPECT_EQ(info->shards[2].hash_range.end, kMaxHashKey);
  EXPECT_EQ(info->shards[0].last_offset.get(), 0u);
  EXPECT_EQ(info->shards[0].trim_offset.get(), 1u);
  EXPECT_EQ(info->retention_hours, 24);
  auto start = DecodeSequenceNumber(info->shards[1].starting_sequence_number.get());
  ASSERT_TRUE(start);
  EXPECT_EQ(start->shard_uid, info->shards[1].uid.get());
  EXPECT_EQ(start->offset, 1u);
  EXPECT_EQ(this->store_->DescribeStream(StreamName("zz")).status().code(), StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, RetentionHoursAreValidatedAndKept) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  EXPECT_EQ(this->store_->SetRetentionHours(StreamName("s"), 23).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->SetRetentionHours(StreamName("s"), 8761).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->store_->SetRetentionHours(StreamName("x"), 48).code(), StatusCode::kNotFound);
  ASSERT_TRUE(this->store_->SetRetentionHours(StreamName("s"), 168).ok());
  this->ReopenIfDurable();
  EXPECT_EQ(this->store_->DescribeStream(StreamName("s"))->retention_hours, 168);
}

TYPED_TEST(StoreContract, DeleteStreamRemovesRecordsAndCheckpoints) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  auto acked = this->Put("s", {"a", "b"});
  ASSERT_TRUE(this->store_
                  ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0,
                                  acked[1].sequence_number)
                  .ok());
  ASSERT_TRUE(this->store_->DeleteStream(StreamName("s")).ok());
  EXPECT_EQ(this->store_->DeleteStream(StreamName("s")).code(), StatusCode::kNotFound);
  EXPECT_TRUE(this->store_->ListStreams("", 10).empty());
  EXPECT_TRUE(this->store_->ListCheckpoints(CheckpointOwner("")).empty());
  auto r = this->store_->Append(StreamName("s"), std::vector<AppendRecord>{{"k", "", "v"}});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  // A new stream with the same name starts empty.
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  EXPECT_TRUE(this->ReadAll("s", kShard0.get()).empty());
  this->ReopenIfDurable();
  EXPECT_TRUE(this->ReadAll("s", kShard0.get()).empty());
  EXPECT_EQ(this->store_->ListStreams("", 10).size(), 1u);
}

TYPED_TEST(StoreContract, NewStreamIsCreatingForTheStatusDelayAndUsableAtOnce) {
  this->options_.status_delay = std::chrono::milliseconds(500);
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  EXPECT_EQ(this->store_->DescribeStream(StreamName("s"))->status, StreamStatus::kCreating);
  EXPECT_EQ(*this->store_->GetStreamStatus(StreamName("s")), StreamStatus::kCreating);
  // Visibility only: the stream is durable and its readers and writers may use it.
  this->Put("s", {"a"});
  this->clock_.AdvanceMs(499);
  EXPECT_EQ(*this->store_->GetStreamStatus(StreamName("s")), StreamStatus::kCreating);
  this->clock_.AdvanceMs(1);
  EXPECT_EQ(this->store_->DescribeStream(StreamName("s"))->status, StreamStatus::kActive);
  EXPECT_EQ(*this->store_->GetStreamStatus(StreamName("s")), StreamStatus::kActive);
  EXPECT_EQ(this->store_->GetStreamStatus(StreamName("x")).status().code(), StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, DeletedStreamIsDeletingForTheStatusDelayThenGone) {
  this->options_.status_delay = std::chrono::milliseconds(500);
  this->Reopen();
  for (const char* n : {"a", "s", "z"})
    ASSERT_TRUE(this->store_->CreateStream(StreamName(n), 2).ok());
  this->Put("s", {"a", "b"});
  this->clock_.AdvanceMs(500);
  ASSERT_TRUE(this->store_->DeleteStream(StreamName("s")).ok());

  auto info = this->store_->DescribeStream(StreamName("s"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->status, StreamStatus::kDeleting);
  EXPECT_TRUE(info->shards.empty());
  EXPECT_EQ(*this->store_->GetStreamStatus(StreamName("s")), StreamStatus::kDeleting);
  const auto names = [&](std::string_view after, size_t limit) {
    std::vector<std::string> out;
    for (const StreamName& n : this->store_->ListStreams(after, limit))
      out.push_back(n.get());
    return out;
  };
  EXPECT_EQ(names("", 10), (std::vector<std::string>{"a", "s", "z"}));
  EXPECT_EQ(names("a", 1), (std::vector<std::string>{"s"}));
  EXPECT_EQ(names("s", 10), (std::vector<std::string>{"z"}));
  // Its data is gone already, and the name is taken until the delay has passed.
  auto r = this->store_->Append(StreamName("s"), std::vector<AppendRecord>{{"k", "", "v"}});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store_->DeleteStream(StreamName("s")).code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store_->GetStreamAttributes(StreamName("s")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(this->store_->CreateStream(StreamName("s"), 1).code(), StatusCode::kAlreadyExists);

  this->clock_.AdvanceMs(500);
  EXPECT_EQ(this->store_->DescribeStream(StreamName("s")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store_->GetStreamStatus(StreamName("s")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(names("", 10), (std::vector<std::string>{"a", "z"}));
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  EXPECT_TRUE(this->ReadAll("s", kShard0.get()).empty());
}

TEST_F(StoreTest, RestartEndsCreatingAndDeleting) {
  options_.status_delay = std::chrono::milliseconds(500);
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("gone"), 1).ok());
  clock_.AdvanceMs(500);
  ASSERT_TRUE(store_->CreateStream(StreamName("new"), 1).ok());
  ASSERT_TRUE(store_->DeleteStream(StreamName("gone")).ok());
  Reopen();  // same clock: only the durable state can end the states
  EXPECT_EQ(*store_->GetStreamStatus(StreamName("new")), StreamStatus::kActive);
  EXPECT_EQ(store_->DescribeStream(StreamName("gone")).status().code(), StatusCode::kNotFound);
  ASSERT_EQ(store_->ListStreams("", 10).size(), 1u);
  ASSERT_TRUE(store_->CreateStream(StreamName("gone"), 1).ok());
}

TYPED_TEST(StoreContract, AppendRoutesByMd5AndExplicitHashKey) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 4).ok());
  // MD5("a") is in shard 0, MD5("abc") in shard 2, MD5("") in shard 3 of 4 (Python hashlib).
  auto acked = this->Put("s", {"a", "abc", ""});
  ASSERT_EQ(acked.size(), 3u);
  EXPECT_EQ(acked[0].shard_id.get(), "shardId-000000000000");
  EXPECT_EQ(acked[1].shard_id.get(), "shardId-000000000002");
  EXPECT_EQ(acked[2].shard_id.get(), "shardId-000000000003");
  // 2^126 is the first key of shard 1.
  auto explicit_acked = this->Put("s", {"a"}, "85070591730234615865843651857942052864");
  ASSERT_EQ(explicit_acked.size(), 1u);
  EXPECT_EQ(explicit_acked[0].shard_id.get(), "shardId-000000000001");
  auto one_below = this->Put("s", {"abc"}, "85070591730234615865843651857942052863");
  EXPECT_EQ(one_below[0].shard_id.get(), "shardId-000000000000");
  bool saw_explicit = false;
  auto r = this->store_->Read(
      StreamName("s"), kShard1, Offset(1), ReadLimits{}, [&](const RecordView& v) {
        saw_explicit = v.explicit_hash_key == "85070591730234615865843651857942052864";
      });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(saw_explicit);
}

TYPED_TEST(StoreContract, AppendRejectsBadExplicitHashKeyAndUnknownStream) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  for (const char* bad : {"-1", "abc", "340282366920938463463374607431768211456", "01"}) {
    std::vector<AppendRecord> records{{"k", "", "ok"}, {"k", bad, "v"}};
    auto r = this->store_->Append(StreamName("s"), records);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  // The whole call failed: nothing of it was written.
  EXPECT_TRUE(this->ReadAll("s", kShard0.get()).empty());
  std::vector<AppendRecord> one{{"k", "", "v"}};
  EXPECT_EQ(this->store_->Append(StreamName("nope"), one).status().code(), StatusCode::kNotFound);
  auto empty = this->store_->Append(StreamName("s"), std::span<const AppendRecord>{});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TYPED_TEST(StoreContract, ReadHonoursLimitsAndReturnsAtLeastOneRecord) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a", "b", "c", "d", "e"});
  std::vector<uint64_t> seen;
  auto visit = [&](const RecordView& v) { seen.push_back(v.offset.get()); };
  auto r = this->store_->Read(StreamName("s"), kShard0, Offset(2), ReadLimits{2, 1 << 20}, visit);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(r->next.get(), 4u);
  EXPECT_EQ(r->last_offset.get(), 5u);
  EXPECT_EQ(r->last_arrival_ms, this->clock_.NowMs());
  seen.clear();
  // A byte limit smaller than one record still returns that record.
  r = this->store_->Read(StreamName("s"), kShard0, Offset(4), ReadLimits{100, 1}, visit);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{4}));
  seen.clear();
  r = this->store_->Read(StreamName("s"), kShard0, Offset(6), ReadLimits{}, visit);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(r->next.get(), 6u);
  EXPECT_EQ(
      this->store_
          ->Read(StreamName("s"), ShardId("shardId-000000000001"), Offset(1), ReadLimits{}, visit)
          .status()
          .code(),
      StatusCode::kNotFound);
  EXPECT_EQ(this->store_->Read(StreamName("s"), ShardId("garbage"), Offset(1), ReadLimits{}, visit)
                .status()
                .code(),
            StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, ResolvesEveryStartingPosition) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  const StreamName s("s");
  EXPECT_EQ(
      this->store_->ResolvePosition(s, kShard0, {StartingPosition::kTrimHorizon, "", 0})->get(),
      1u);
  EXPECT_EQ(this->store_->ResolvePosition(s, kShard0, {StartingPosition::kLatest, "", 0})->get(),
            1u);
  const int64_t t0 = this->clock_.NowMs();
  auto first = this->Put("s", {"a", "b"});  // offsets 1, 2 at t0
  this->clock_.StepWallMs(1000);
  auto second = this->Put("s", {"c"});  // offset 3 at t0 + 1000
  this->clock_.StepWallMs(1000);
  this->Put("s", {"d"});  // offset 4 at t0 + 2000

  auto resolve = [&](StartingPosition p, std::string_view seq, int64_t ts = 0) {
    return this->store_->ResolvePosition(s, kShard0, {p, std::string(seq), ts});
  };
  EXPECT_EQ(resolve(StartingPosition::kTrimHorizon, "")->get(), 1u);
  EXPECT_EQ(resolve(StartingPosition::kLatest, "")->get(), 5u);
  EXPECT_EQ(resolve(StartingPosition::kAtSequenceNumber, first[1].sequence_number.get())->get(),
            2u);
  EXPECT_EQ(resolve(StartingPosition::kAfterSequenceNumber, first[1].sequence_number.get())->get(),
            3u);
  EXPECT_EQ(resolve(StartingPosition::kAtTimestamp, "", t0 - 5)->get(), 1u);
  EXPECT_EQ(resolve(StartingPosition::kAtTimestamp, "", t0)->get(), 1u);
  EXPECT_EQ(resolve(StartingPosition::kAtTimestamp, "", t0 + 1)->get(), 3u);
  EXPECT_EQ(resolve(StartingPosition::kAtTimestamp, "", t0 + 1000)->get(), 3u);
  EXPECT_EQ(resolve(StartingPosition::kAtTimestamp, "", t0 + 1500)->get(), 4u);
  EXPECT_EQ(resolve(StartingPosition::kAtTimestamp, "", t0 + 999'999)->get(), 5u);
  auto info = this->store_->DescribeStream(s);
  const uint64_t uid = info->shards[0].uid.get();
  EXPECT_EQ(
      resolve(StartingPosition::kAfterSequenceNumber, EncodeSequenceNumber({uid, 0}).get())->get(),
      1u);
  (void)second;
}

TYPED_TEST(StoreContract, RejectsBadSequenceNumbers) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  const StreamName s("s");
  auto acked = this->Put("s", {"a"});  // shard 0
  const auto uid0 = DecodeSequenceNumber(acked[0].sequence_number.get())->shard_uid;
  for (auto p : {StartingPosition::kAtSequenceNumber, StartingPosition::kAfterSequenceNumber}) {
    for (std::string bad : {std::string(""), std::string("abc"), std::string("12"),
                            acked[0].sequence_number.get() + "1", std::string(40, '9'),
                            EncodeSequenceNumber({uid0, 2}).get(),  // never issued
                            EncodeSequenceNumber({uid0 + 100, 1}).get()}) {
      auto r = this->store_->ResolvePosition(s, kShard0, {p, bad, 0});
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
    // A sequence number of shard 0 used on shard 1.
    EXPECT_EQ(this->store_->ResolvePosition(s, kShard1, {p, acked[0].sequence_number.get(), 0})
                  .status()
                  .code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(this->store_
                ->ResolvePosition(
                    s, kShard0,
                    {StartingPosition::kAtSequenceNumber, EncodeSequenceNumber({uid0, 0}).get(), 0})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreContract, IteratorSecretIsRandomPerStoreAndStable) {
  const std::string secret = this->store_->IteratorSecret();
  EXPECT_EQ(secret.size(), 32u);
  EXPECT_NE(secret, std::string(32, '\0'));
  this->ReopenIfDurable();
  EXPECT_EQ(this->store_->IteratorSecret(), secret);
  testing::TestStore other(TypeParam::kKind);
  ASSERT_TRUE(other.Open().ok());
  EXPECT_NE(other->IteratorSecret(), secret);
}

}  // namespace
}  // namespace tideline::storage
