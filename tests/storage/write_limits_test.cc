// The write path's limits: free disk space (min_free_bytes), the bounded append queue
// (max_queued_append_bytes) and sticky write failures. The writer is held inside
// the write_fault hook where a test needs appends to wait in the queue.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "disk_space.h"
#include "storage/sequence_number.h"
#include "store_fixture.h"

namespace tideline::storage {
namespace {

constexpr uint64_t kMiB = 1u << 20;

// Holds the writer inside the write_fault hook until Release(), and collects the results of
// AppendAsync calls so a test can wait for them without sleeping.
class WriterGate {
 public:
  // The hook: blocks the writer while the gate is closed, then returns `fault` (OK by default).
  std::function<Status()> Hook() {
    return [this] {
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
      return fault_;
    };
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Release(Status fault = Status::Ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    fault_ = std::move(fault);
    open_ = true;
    cv_.notify_all();
  }
  // Blocks until the writer has entered the hook `n` times in all.
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }

  // A callback that stores its result in slot `i` of results().
  AppendCallback Collect(size_t i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (results_.size() <= i) results_.resize(i + 1);
    }
    return [this, i](Result<std::vector<AppendedRecord>> r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_[i].emplace(std::move(r));
      cv_.notify_all();
    };
  }
  bool Done(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return results_[i].has_value();
  }
  Result<std::vector<AppendedRecord>> Wait(size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return results_[i].has_value(); });
    return *results_[i];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int entered_ = 0;
  Status fault_;
  std::vector<std::optional<Result<std::vector<AppendedRecord>>>> results_;
};

class WriteLimitsTest : public StoreTest {
 protected:
  void SetUp() override {
    hooks_.write_fault = gate_.Hook();
    StoreTest::SetUp();
    ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());
  }

  // One record of `bytes` bytes (partition key "k" included), kept alive by the fixture.
  std::span<const AppendRecord> Record(size_t bytes) {
    data_.push_back(std::make_unique<std::string>(bytes - 1, 'x'));
    records_.push_back(std::make_unique<AppendRecord>(AppendRecord{"k", "", *data_.back()}));
    return {records_.back().get(), 1};
  }

  WriterGate gate_;
  std::vector<std::unique_ptr<std::string>> data_;
  std::vector<std::unique_ptr<AppendRecord>> records_;
};

TEST_F(WriteLimitsTest, AppendsAreRefusedBelowMinFreeAndAcceptedAgainWhenSpaceReturns) {
  options_.min_free_bytes = 256 * kMiB;
  free_bytes_ = 1024 * kMiB;
  Reopen();
  auto acked = Put("s", {"a", "b"});
  ASSERT_EQ(acked.size(), 2u);

  free_bytes_ = 120 * kMiB;
  clock_.AdvanceMonotonicMs(100);  // the cached reading is now stale
  auto refused = store_->Append(StreamName("s"), Record(10));
  ASSERT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(refused.status().retryable());
  EXPECT_NE(refused.status().message().find("Insufficient disk space: 120 MiB free in " +
                                            options_.data_dir.string() +
                                            ", below storage.min_free_mib (256)"),
            std::string::npos)
      << refused.status().message();
  // Not sticky, not a health problem; reads and checkpoints go on.
  EXPECT_TRUE(store_->Health().ok());
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), 2u);
  EXPECT_TRUE(store_
                  ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0,
                                  acked[1].sequence_number)
                  .ok());
  StoreStats stats = store_->Stats();
  EXPECT_TRUE(stats.low_disk);
  EXPECT_EQ(stats.disk_free_bytes, 120 * kMiB);
  EXPECT_EQ(stats.low_disk_refusals, 1u);

  free_bytes_ = 300 * kMiB;
  clock_.AdvanceMonotonicMs(100);
  auto again = Put("s", {"c"});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(DecodeSequenceNumber(again[0].sequence_number.get())->offset, 3u)
      << "a refused append must not use up offsets";
  EXPECT_FALSE(store_->Stats().low_disk);
}

TEST_F(WriteLimitsTest, FreeSpaceIsReadAtMostOncePerRefreshIntervalNotPerAppend) {
  options_.min_free_bytes = 256 * kMiB;
  Reopen();
  const int reads_after_open = store_.free_bytes_reads();
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(Put("s", {"a", "b", "c"}).size(), 3u);
  EXPECT_EQ(store_.free_bytes_reads(), reads_after_open);
  clock_.AdvanceMonotonicMs(DiskSpaceGuard::kRefreshMs);
  ASSERT_EQ(Put("s", {"d"}).size(), 1u);
  EXPECT_EQ(store_.free_bytes_reads(), reads_after_open + 1);
}

TEST_F(WriteLimitsTest, CommittedBytesForceAFreshReadingBeforeTheIntervalEnds) {
  // The guard re-reads after min_free_bytes / 8 committed bytes (here 8 KiB), so a disk our own
  // appends fill is noticed without waiting for the clock.
  options_.min_free_bytes = 64 * 1024;
  free_bytes_ = 100 * 1024;
  Reopen();
  ASSERT_TRUE(store_->Append(StreamName("s"), Record(4 * 1024)).ok());
  free_bytes_ = 32 * 1024;
  EXPECT_TRUE(store_->Append(StreamName("s"), Record(5 * 1024)).ok()) << "4 KiB: no re-read yet";
  auto refused = store_->Append(StreamName("s"), Record(10));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
}

TEST_F(WriteLimitsTest, AppendsQueuedBeforeTheDiskFilledAreRefusedByTheWriter) {
  options_.min_free_bytes = 256 * kMiB;
  free_bytes_ = 1024 * kMiB;
  Reopen();
  gate_.Close();
  store_->AppendAsync(StreamName("s"), Record(100), gate_.Collect(0));
  gate_.WaitEntered(1);  // the writer holds append 0 and is about to write it
  store_->AppendAsync(StreamName("s"), Record(100), gate_.Collect(1));
  EXPECT_FALSE(gate_.Done(1)) << "accepted into the queue: space was fine when it came";
  free_bytes_ = 10 * kMiB;
  clock_.AdvanceMonotonicMs(100);
  gate_.Release();
  EXPECT_TRUE(gate_.Wait(0).ok()) << "already past the check when the disk filled";
  EXPECT_EQ(gate_.Wait(1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), 1u);
  EXPECT_TRUE(store_->Health().ok());
  EXPECT_EQ(store_->Stats().low_disk_refusals, 1u);
}

TEST_F(WriteLimitsTest, MinFreeZeroDisablesTheCheck) {
  options_.min_free_bytes = 0;
  free_bytes_ = 0;
  Reopen();
  store_.reset_free_bytes_reads();
  EXPECT_EQ(Put("s", {"a"}).size(), 1u);
  EXPECT_EQ(store_.free_bytes_reads(), 0);
}

TEST_F(StoreTest, RealStatvfsReadingIsReportedInStats) {
  hooks_.free_bytes = nullptr;
  options_.min_free_bytes = 1;  // any real file system has a byte free
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());
  EXPECT_EQ(Put("s", {"a"}).size(), 1u);
  const uint64_t before = std::filesystem::space(store_.options().data_dir).available;
  const StoreStats stats = store_->Stats();
  const uint64_t after = std::filesystem::space(store_.options().data_dir).available;
  // The data directory's own f_bavail, read moments apart from ours: other writers on the
  // machine may move it a little, never by a gigabyte in between.
  constexpr uint64_t kSlack = uint64_t{1} << 30;
  EXPECT_GE(stats.disk_free_bytes + kSlack, std::min(before, after));
  EXPECT_LE(stats.disk_free_bytes, std::max(before, after) + kSlack);
  EXPECT_FALSE(stats.low_disk);
}

TEST_F(WriteLimitsTest, FullQueueThrottlesAppendsAndQueuedOnesCommitAfterRelease) {
  options_.max_queued_append_bytes = 4000;
  Reopen();
  gate_.Close();
  store_->AppendAsync(StreamName("s"), Record(1000), gate_.Collect(0));
  gate_.WaitEntered(1);  // append 0 left the queue; the writer holds it
  for (size_t i = 1; i <= 4; ++i) {
    store_->AppendAsync(StreamName("s"), Record(1000), gate_.Collect(i));
    EXPECT_FALSE(gate_.Done(i)) << "append " << i << " fits in the queue";
  }
  EXPECT_EQ(store_->Stats().queued_append_bytes, 4000u);
  store_->AppendAsync(StreamName("s"), Record(1000), gate_.Collect(5));
  ASSERT_TRUE(gate_.Done(5)) << "a full queue answers at once";
  const Status throttled = gate_.Wait(5).status();
  EXPECT_EQ(throttled.code(), StatusCode::kThrottled);
  EXPECT_TRUE(throttled.retryable());
  EXPECT_NE(throttled.message().find("storage.max_queued_append_mib"), std::string::npos);
  EXPECT_EQ(store_->Stats().throttled_appends, 1u);

  gate_.Release();
  for (size_t i = 0; i <= 4; ++i) {
    auto r = gate_.Wait(i);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    EXPECT_EQ(DecodeSequenceNumber((*r)[0].sequence_number.get())->offset, i + 1);
  }
  EXPECT_EQ(store_->Stats().queued_append_bytes, 0u);
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), 5u);
  EXPECT_TRUE(store_->Append(StreamName("s"), Record(1000)).ok()) << "accepted once drained";
}

TEST_F(WriteLimitsTest, AppendLargerThanTheQueueBoundPassesIntoAnEmptyQueue) {
  options_.max_queued_append_bytes = 1000;
  Reopen();
  gate_.Close();
  store_->AppendAsync(StreamName("s"), Record(100), gate_.Collect(0));
  gate_.WaitEntered(1);
  store_->AppendAsync(StreamName("s"), Record(5000), gate_.Collect(1));
  EXPECT_FALSE(gate_.Done(1)) << "the queue was empty";
  store_->AppendAsync(StreamName("s"), Record(10), gate_.Collect(2));
  EXPECT_EQ(gate_.Wait(2).status().code(), StatusCode::kThrottled);
  gate_.Release();
  EXPECT_TRUE(gate_.Wait(0).ok());
  EXPECT_TRUE(gate_.Wait(1).ok());
}

TEST_F(WriteLimitsTest, FailedWriteFailsEveryQueuedAndLaterAppendAndHealthReportsIt) {
  auto acked = Put("s", {"a"});
  gate_.Close();
  store_->AppendAsync(StreamName("s"), Record(10), gate_.Collect(0));
  gate_.WaitEntered(2);  // Put("a") entered once; append 0 is now held
  store_->AppendAsync(StreamName("s"), Record(10), gate_.Collect(1));
  store_->AppendAsync(StreamName("s"), Record(10), gate_.Collect(2));
  gate_.Release(Status::IOError("injected fsync failure"));
  for (size_t i = 0; i <= 2; ++i) {
    const Status st = gate_.Wait(i).status();
    EXPECT_EQ(st.code(), StatusCode::kIOError) << i;
    EXPECT_NE(st.message().find("injected fsync failure"), std::string::npos) << i;
  }
  gate_.Release(Status::Ok());  // the disk "recovers"; the store must not trust it
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store_->Append(StreamName("s"), Record(10)).status().code(), StatusCode::kIOError);
  }
  EXPECT_EQ(store_->Health().code(), StatusCode::kIOError);
  EXPECT_NE(store_->Health().message().find("injected fsync failure"), std::string::npos);
  // Reads and checkpoints of what was acknowledged still work.
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), 1u);
  EXPECT_TRUE(store_
                  ->SetCheckpoint(CheckpointOwner("app"), StreamName("s"), kShard0,
                                  acked[0].sequence_number)
                  .ok());
}

}  // namespace
}  // namespace tideline::storage
