// The token buckets behind server.throughput_limits, on a manual clock: burst, refill, debt,
// and the limiter's shard table (routing, resharding, deleted streams).
#include "throughput_limiter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/store.h"
#include "test_util/manual_clock.h"
#include "test_util/test_store.h"

namespace tideline::server {
namespace {

constexpr int64_t kMs = 1'000'000;  // ns
constexpr int64_t kSecond = 1000 * kMs;
constexpr int64_t kT0 = 5 * kSecond;

// Units TryTake(1) grants at `now` until it refuses (bounded, so a broken bucket fails).
int64_t Drain(TokenBucket& b, int64_t now) {
  int64_t n = 0;
  while (n < 1'000'000 && b.TryTake(1, now))
    ++n;
  return n;
}

TEST(TokenBucketTest, StartsFullWithOneSecondsWorth) {
  TokenBucket b(1000);
  EXPECT_EQ(b.Available(kT0), 1000);
  EXPECT_EQ(Drain(b, kT0), 1000);
  EXPECT_FALSE(b.TryTake(1, kT0));
  EXPECT_EQ(b.Available(kT0), 0);
}

TEST(TokenBucketTest, RefillsAtTheRate) {
  TokenBucket b(1000);
  ASSERT_EQ(Drain(b, kT0), 1000);
  EXPECT_EQ(Drain(b, kT0 + 1 * kMs), 1);
  EXPECT_EQ(Drain(b, kT0 + 251 * kMs), 250);
  EXPECT_EQ(Drain(b, kT0 + 751 * kMs), 500);
}

TEST(TokenBucketTest, IdleTimeNeverBanksMoreThanOneSecond) {
  TokenBucket b(1000);
  EXPECT_EQ(Drain(b, kT0 + 3600 * kSecond), 1000);
}

TEST(TokenBucketTest, RequestLargerThanTheBurstNeverPasses) {
  TokenBucket b(1 << 20);
  EXPECT_FALSE(b.TryTake((1 << 20) + 1, kT0));
  EXPECT_TRUE(b.TryTake(1 << 20, kT0));  // exactly one second's worth, from a full bucket
  EXPECT_FALSE(b.TryTake(1, kT0));
}

TEST(TokenBucketTest, RefusedTakeTakesNothing) {
  TokenBucket b(100);
  ASSERT_TRUE(b.TryTake(60, kT0));
  EXPECT_FALSE(b.TryTake(41, kT0));
  EXPECT_TRUE(b.TryTake(40, kT0));
}

TEST(TokenBucketTest, RefundGivesBackWhatWasTaken) {
  TokenBucket b(10);
  ASSERT_EQ(Drain(b, kT0), 10);
  b.Refund(3);
  EXPECT_EQ(Drain(b, kT0), 3);
}

TEST(TokenBucketTest, ChargePutsTheBucketInDebtUntilTheRateCatchesUp) {
  // 2 MiB/s and one 10 MiB read: one second of burst paid it in part, 4 s of rate the rest.
  TokenBucket b(2 << 20);
  EXPECT_TRUE(b.HasCredit(kT0));
  b.Charge(10 << 20, kT0);
  EXPECT_FALSE(b.HasCredit(kT0));
  EXPECT_EQ(b.Available(kT0), -(8 << 20));
  EXPECT_FALSE(b.HasCredit(kT0 + 3999 * kMs));
  EXPECT_FALSE(b.HasCredit(kT0 + 4000 * kMs));
  EXPECT_TRUE(b.HasCredit(kT0 + 4001 * kMs));
}

TEST(TokenBucketTest, SmallChargesLeaveCredit) {
  TokenBucket b(2 << 20);
  b.Charge(1 << 20, kT0);
  EXPECT_TRUE(b.HasCredit(kT0));
  b.Charge(1 << 20, kT0);
  EXPECT_FALSE(b.HasCredit(kT0));
  EXPECT_TRUE(b.HasCredit(kT0 + 1 * kMs));
}

ThroughputLimits Defaults() {
  ThroughputLimits limits;
  limits.enabled = true;
  return limits;
}

TEST(ShardBucketsTest, WriteNeedsBothRecordsAndBytes) {
  ShardBuckets s(Defaults());
  // 1,000 records of 1 byte exhaust the record rate with bytes to spare.
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(s.TryWrite(1, kT0)) << i;
  EXPECT_FALSE(s.TryWrite(1, kT0));
  // A second later: one 1 MiB record exhausts the bytes with records to spare, and a refused
  // record does not spend a record.
  const int64_t t1 = kT0 + kSecond;
  ASSERT_TRUE(s.TryWrite(1 << 20, t1));
  EXPECT_FALSE(s.TryWrite(1, t1));
  EXPECT_EQ(s.write_records.Available(t1), 999);
}

TEST(ShardBucketsTest, FiveReadsASecond) {
  ShardBuckets s(Defaults());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(s.TryRead(kT0)) << i;
  EXPECT_FALSE(s.TryRead(kT0));
  EXPECT_FALSE(s.TryRead(kT0 + 199 * kMs));
  EXPECT_TRUE(s.TryRead(kT0 + 200 * kMs));
}

TEST(ShardBucketsTest, ReadRefusedForBytesDoesNotSpendACall) {
  ShardBuckets s(Defaults());
  s.read_bytes.Charge(10 << 20, kT0);
  EXPECT_FALSE(s.TryRead(kT0 + kSecond));
  EXPECT_EQ(s.read_calls.Available(kT0 + kSecond), 5);
  EXPECT_TRUE(s.TryRead(kT0 + 4001 * kMs));
}

TEST(ThroughputLimiterTest, RoutesRecordsToTheirShardsBuckets) {
  testing::ManualClock clock;
  ThroughputLimiter limiter(Defaults(), clock);
  auto store = storage::Store::OpenInMemory();
  ASSERT_TRUE(store.ok());
  const StreamName name("s");
  ASSERT_TRUE((*store)->CreateStream(name, 4).ok());
  auto shards = limiter.ForWrites(name, **store);
  ASSERT_NE(shards, nullptr);
  ASSERT_EQ(shards->open.size(), 4u);
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(4);
  for (size_t i = 0; i < ranges.size(); ++i) {
    for (HashKey key : {ranges[i].start, ranges[i].end}) {
      const StreamShards::Route* r = shards->RouteOf(key);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(*r->shard_id, fmt::format("shardId-{:012}", i));
      EXPECT_EQ(r->buckets, shards->Find(*r->shard_id));
    }
  }
  // Cached: the same table until something invalidates it.
  EXPECT_EQ(limiter.ForWrites(name, **store), shards);
  EXPECT_EQ(limiter.ForWrites(StreamName("missing"), **store), nullptr);
}

TEST(ThroughputLimiterTest, ReshardedShardsGetTheirOwnBucketsAndOthersKeepTheirs) {
  testing::ManualClock clock;
  ThroughputLimiter limiter(Defaults(), clock);
  auto store = storage::Store::OpenInMemory();
  ASSERT_TRUE(store.ok());
  const StreamName name("s");
  ASSERT_TRUE((*store)->CreateStream(name, 2).ok());
  auto before = limiter.ForWrites(name, **store);
  ShardBuckets* kept = before->Find("shardId-000000000001");
  ShardBuckets* parent = before->Find("shardId-000000000000");
  ASSERT_TRUE(kept && parent);
  ASSERT_TRUE((*store)->SplitShard(name, ShardId("shardId-000000000000"), HashKey{1} << 64).ok());
  limiter.Invalidate(name.get());
  auto after = limiter.ForWrites(name, **store);
  ASSERT_NE(after, before);
  EXPECT_EQ(after->open.size(), 3u);
  EXPECT_EQ(after->Find("shardId-000000000001"), kept);
  EXPECT_EQ(after->Find("shardId-000000000000"), parent);  // closed, still readable
  ShardBuckets* child = after->Find("shardId-000000000002");
  ASSERT_NE(child, nullptr);
  EXPECT_NE(child, parent);
  EXPECT_EQ(after->RouteOf(0)->buckets, child);
  // The reads side finds the children by id, whatever table it had.
  auto info = (*store)->DescribeStream(name);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(limiter.ForShard(*info, "shardId-000000000003").get(),
            limiter.ForWrites(name, **store)->Find("shardId-000000000003"));
}

TEST(ThroughputLimiterTest, AStreamCreatedAgainStartsWithFullBuckets) {
  testing::ManualClock clock;
  ThroughputLimiter limiter(Defaults(), clock);
  storage::StoreOptions options;
  options.status_delay = std::chrono::milliseconds(0);  // the name is free again at once
  auto store = storage::Store::OpenInMemory(options);
  ASSERT_TRUE(store.ok());
  const StreamName name("s");
  ASSERT_TRUE((*store)->CreateStream(name, 1).ok());
  ShardBuckets* old = limiter.ForWrites(name, **store)->Find("shardId-000000000000");
  while (old->TryWrite(1, limiter.NowNs())) {
  }
  ASSERT_TRUE((*store)->DeleteStream(name).ok());
  limiter.Forget(name.get());
  ASSERT_TRUE((*store)->CreateStream(name, 1).ok());
  ShardBuckets* fresh = limiter.ForWrites(name, **store)->Find("shardId-000000000000");
  EXPECT_TRUE(fresh->TryWrite(1, limiter.NowNs()));
}

}  // namespace
}  // namespace tideline::server
