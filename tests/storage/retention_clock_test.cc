// Retention against wall-clock steps: the trimmer's "now" may not run ahead of the monotonic
// time since Open (storage/FORMAT.md, "Clocks"); arrival times never decrease within a shard.
#include <gtest/gtest.h>

#include "store_fixture.h"

namespace tideline::storage {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int64_t kYearMs = 365 * 24 * kHourMs;

// Streams keep their real (24 h minimum) retention here: the clock tolerance is minutes.
TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);
// Reopening is the RocksDB store's alone.
using RetentionClockTest = StoreTest;

TYPED_TEST(StoreContract, WallClockJumpingAYearForwardExpiresNothing) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  this->Put("s", {"a", "b", "c", "d"});
  this->clock_.StepWallMs(kYearMs);  // a wall-clock step; no time passed
  auto removed = this->store_->TrimExpired();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 0u);
  EXPECT_EQ(this->ReadAll("s", kShard0.get()).size() + this->ReadAll("s", kShard1.get()).size(),
            4u);

  // Real time passing still expires records: the monotonic clock says 25 hours went by.
  this->clock_.AdvanceMonotonicMs(25 * kHourMs);
  removed = this->store_->TrimExpired();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 4u);
}

TYPED_TEST(StoreContract, RecordsAreKeptForTheirRetentionByTheMonotonicClock) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a"});
  this->clock_.AdvanceMs(12 * kHourMs);
  this->Put("s", {"b"});
  this->clock_.StepWallMs(30 * kHourMs);  // step forward: "a" and "b" look 42 h and 30 h old
  this->clock_.AdvanceMs(12 * kHourMs + 60'000);  // really: 24 h 1 min and 12 h 1 min
  auto removed = this->store_->TrimExpired();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  auto left = this->ReadAll("s", kShard0.get());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].second, "d-b");
}

TYPED_TEST(StoreContract, SmallForwardStepWithinToleranceIsFollowed) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a"});
  this->clock_.AdvanceMonotonicMs(24 * kHourMs - 60'000);  // a minute short of the retention
  this->clock_.StepWallMs(24 * kHourMs +
                          60'000);  // the wall clock says a minute past it (2 min step)
  EXPECT_EQ(*this->store_->TrimExpired(), 1u);
}

TYPED_TEST(StoreContract, WallClockJumpingBackwardExpiresNothingAndKeepsArrivalsMonotonic) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a"});
  const int64_t first = this->clock_.NowMs();
  this->clock_.StepWallMs(-kYearMs);
  this->clock_.AdvanceMonotonicMs(
      25 * kHourMs);  // by the monotonic clock "a" expired, by the wall it is new
  this->Put("s", {"b"});
  EXPECT_EQ(*this->store_->TrimExpired(), 0u) << "the earlier of the two clocks counts";
  std::vector<int64_t> arrivals;
  auto r = this->store_->Read(StreamName("s"), kShard0, Offset(1), ReadLimits{},
                              [&](const RecordView& v) { arrivals.push_back(v.arrival_ms); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(arrivals, (std::vector<int64_t>{first, first}));
}

TEST_F(RetentionClockTest, ArrivalsStayMonotonicAcrossAReopenWithTheClockBehind) {
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());
  Put("s", {"a"});
  const int64_t first = clock_.NowMs();
  clock_.StepWallMs(-kHourMs);
  Reopen();
  Put("s", {"b"});
  std::vector<int64_t> arrivals;
  auto r = store_->Read(StreamName("s"), kShard0, Offset(1), ReadLimits{},
                        [&](const RecordView& v) { arrivals.push_back(v.arrival_ms); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(arrivals, (std::vector<int64_t>{first, first}));
}

}  // namespace
}  // namespace tideline::storage
