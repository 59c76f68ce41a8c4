// Retention as production runs it: each stream's retention hours (no StoreHooks::
// retention_override), measured on the manual clock, and the background trimmer removing
// expired records on its own, without a TrimExpired call from the test.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store_fixture.h"
#include "test_util/time_factor.h"

namespace tideline::storage {
namespace {

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;

// Polls (every millisecond) until the first shard's trim offset reaches `offset`, or the scaled
// 10 s limit passes. The trimmer reports nothing but its effect, so its effect is what is waited
// for; only the overall limit is a time.
bool WaitForTrimOffset(const Store& store, const std::string& stream, uint64_t offset) {
  const auto deadline =
      std::chrono::steady_clock::now() + testing::Scaled(std::chrono::seconds(10));
  for (;;) {
    auto info = store.DescribeStream(StreamName(stream));
    if (info.ok() && info->shards[0].trim_offset.get() >= offset) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TYPED_TEST(StoreContract, RetentionHoursOfTheStreamDecideWhatIsTrimmed) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  ASSERT_TRUE(this->store_->SetRetentionHours(StreamName("s"), 48).ok());
  this->ReopenIfDurable();                           // the hours are stored with the stream
  this->Put("s", {"a"});                             // offset 1 at t
  this->clock_.AdvanceMs(24 * kHourMs);              // past the default 24 h, within 48 h
  this->Put("s", {"b"});                             // offset 2 at t + 24 h
  this->clock_.AdvanceMs(24 * kHourMs - kMinuteMs);  // t + 48 h - 1 min
  auto removed = this->store_->TrimExpired();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 0u) << "a record a minute short of 48 hours is kept";

  this->clock_.AdvanceMs(2 * kMinuteMs);  // t + 48 h + 1 min: "a" expired, "b" is 24 h old
  removed = this->store_->TrimExpired();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  auto left = this->ReadAll("s", kShard0.get());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0], (std::pair<uint64_t, std::string>{2, "d-b"}));

  // Shortened to the 24 h minimum, "b" (24 h 1 min old) goes too.
  ASSERT_TRUE(this->store_->SetRetentionHours(StreamName("s"), 24).ok());
  EXPECT_EQ(*this->store_->TrimExpired(), 1u);
  EXPECT_TRUE(this->ReadAll("s", kShard0.get()).empty());
}

TYPED_TEST(StoreContract, BackgroundTrimmerRemovesExpiredRecordsOnItsOwn) {
  this->options_.trim_interval = std::chrono::milliseconds(5);
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a", "b"});  // offsets 1, 2 at t
  this->clock_.AdvanceMs(12 * kHourMs);
  this->Put("s", {"c"});                             // offset 3 at t + 12 h
  this->clock_.AdvanceMs(12 * kHourMs + kMinuteMs);  // t + 24 h 1 min: 1 and 2 expired

  // No TrimExpired call here: the store's own trimmer must move the horizon.
  ASSERT_TRUE(WaitForTrimOffset(*this->store_, "s", 3))
      << "the background trimmer did not remove the expired records";
  auto left = this->ReadAll("s", kShard0.get());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0], (std::pair<uint64_t, std::string>{3, "d-c"}));
  auto info = this->store_->DescribeStream(StreamName("s"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->shards[0].trim_offset.get(), 3u) << "the record within retention stays";
  EXPECT_EQ(info->shards[0].last_offset.get(), 3u);
}

}  // namespace
}  // namespace tideline::storage
