// Appends under concurrency (every record acked once, offsets dense, order kept) on every Store;
// group-commit statistics and batching of the RocksDB store.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "storage/sequence_number.h"
#include "store_fixture.h"

namespace tideline::storage {
namespace {

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

TYPED_TEST(StoreContract, ConcurrentAppendsAreAckedOnceDenseAndOrdered) {
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 40;
  constexpr int kRecordsPerCall = 25;
  constexpr int kInFlight = 4;  // outstanding AppendAsync calls per thread
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 3).ok());

  std::mutex mu;
  std::map<std::string, std::string> acked;  // sequence number -> data
  int acks_with_error = 0;

  auto producer = [&](int t) {
    // Storage for the views of every call; kept until its callback ran.
    std::vector<std::vector<std::string>> keys(kCallsPerThread), data(kCallsPerThread);
    std::vector<std::vector<AppendRecord>> calls(kCallsPerThread);
    std::mutex tmu;
    std::condition_variable cv;
    int outstanding = 0;
    for (int c = 0; c < kCallsPerThread; ++c) {
      for (int i = 0; i < kRecordsPerCall; ++i) {
        const int n = c * kRecordsPerCall + i;
        keys[c].push_back("k" + std::to_string(t) + "-" + std::to_string(n % 7));
        data[c].push_back(std::to_string(t) + ":" + std::to_string(n));
      }
      for (int i = 0; i < kRecordsPerCall; ++i)
        calls[c].push_back({keys[c][i], "", data[c][i]});
      {
        std::unique_lock<std::mutex> lock(tmu);
        cv.wait(lock, [&] { return outstanding < kInFlight; });
        ++outstanding;
      }
      this->store_->AppendAsync(StreamName("s"), calls[c],
                                [&, c](Result<std::vector<AppendedRecord>> r) {
                                  {
                                    std::lock_guard<std::mutex> lock(mu);
                                    if (!r.ok() || r->size() != calls[c].size()) {
                                      ++acks_with_error;
                                    } else {
                                      for (size_t i = 0; i < r->size(); ++i) {
                                        acked.emplace((*r)[i].sequence_number.get(), data[c][i]);
                                      }
                                    }
                                  }
                                  std::lock_guard<std::mutex> lock(tmu);
                                  --outstanding;
                                  cv.notify_all();
                                });
    }
    std::unique_lock<std::mutex> lock(tmu);
    cv.wait(lock, [&] { return outstanding == 0; });
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back(producer, t);
  for (auto& th : threads)
    th.join();

  EXPECT_EQ(acks_with_error, 0);
  ASSERT_EQ(acked.size(), size_t{kThreads * kCallsPerThread * kRecordsPerCall});

  size_t read_total = 0;
  for (int shard = 0; shard < 3; ++shard) {
    const std::string id = "shardId-00000000000" + std::to_string(shard);
    auto records = this->ReadAll("s", id);
    auto info = this->store_->DescribeStream(StreamName("s"));
    const uint64_t uid = info->shards[shard].uid.get();
    std::map<int, int> last_n_of_thread;
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].first, i + 1) << "offsets must be dense from 1";
      const auto seq = EncodeSequenceNumber({uid, records[i].first}).get();
      ASSERT_EQ(acked.count(seq), 1u) << "record read but never acked";
      EXPECT_EQ(acked[seq], records[i].second);
      const auto colon = records[i].second.find(':');
      const int t = std::stoi(records[i].second.substr(0, colon));
      const int n = std::stoi(records[i].second.substr(colon + 1));
      auto it = last_n_of_thread.find(t);
      if (it != last_n_of_thread.end()) {
        EXPECT_LT(it->second, n) << "per-thread order broken";
      }
      last_n_of_thread[t] = n;
    }
    read_total += records.size();
  }
  EXPECT_EQ(read_total, acked.size());

  // Every acknowledged record was counted in exactly one group commit.
  const StoreStats stats = this->store_->Stats();
  EXPECT_EQ(stats.committed_records, acked.size());
  EXPECT_GE(stats.group_commits, 1u);
  EXPECT_LE(stats.group_commits, uint64_t{kThreads * kCallsPerThread});
  uint64_t in_buckets = 0;
  for (uint64_t n : stats.commit_buckets)
    in_buckets += n;
  EXPECT_EQ(in_buckets, stats.group_commits);
}

TEST_F(StoreTest, StatsCountSuccessfulGroupCommitsOnly) {
  std::atomic<bool> fail{false};
  hooks_.write_fault = [&fail] {
    return fail ? Status::IOError("injected fsync failure") : Status::Ok();
  };
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 2).ok());
  const StoreStats before = store_->Stats();
  EXPECT_EQ(before.group_commits, 0u);
  EXPECT_EQ(before.committed_records, 0u);
  EXPECT_FALSE(before.write_stopped);

  Put("s", {"a", "b"});
  Put("s", {"c", "d", "e"});
  StoreStats after = store_->Stats();
  EXPECT_EQ(after.group_commits, 2u);  // sequential appends: one group commit each
  EXPECT_EQ(after.committed_records, 5u);
  EXPECT_GT(after.commit_seconds, 0.0);
  uint64_t in_buckets = 0;
  for (uint64_t n : after.commit_buckets)
    in_buckets += n;
  EXPECT_EQ(in_buckets, 2u);

  fail = true;
  const std::vector<AppendRecord> records{{"f", "", "d-f"}};
  EXPECT_FALSE(store_->Append(StreamName("s"), records).ok());
  after = store_->Stats();
  EXPECT_EQ(after.group_commits, 2u);
  EXPECT_EQ(after.committed_records, 5u);
}

// Concurrent appends share one write and one fsync: while the writer is held inside its first
// group commit, N appends queue up; once it is released, the next group commit carries all N.
TEST_F(StoreTest, AppendsQueuedDuringACommitShareTheNextOne) {
  std::mutex mu;
  std::condition_variable cv;
  int commits_started = 0;
  bool released = false;
  hooks_.write_fault = [&] {
    std::unique_lock<std::mutex> lock(mu);
    if (++commits_started == 1) {
      cv.notify_all();
      cv.wait(lock, [&] { return released; });
    }
    return Status::Ok();
  };
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());

  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0;
  int failed = 0;
  const auto callback = [&](Result<std::vector<AppendedRecord>> r) {
    std::lock_guard<std::mutex> lock(done_mu);
    if (!r.ok()) ++failed;
    ++done;
    done_cv.notify_all();
  };
  const std::vector<AppendRecord> first{{"k", "", "first"}};
  store_->AppendAsync(StreamName("s"), first, callback);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return commits_started == 1; });  // the writer holds the first commit
  }

  constexpr int kQueued = 10;
  std::vector<std::string> data;
  for (int i = 0; i < kQueued; ++i)
    data.push_back("queued-" + std::to_string(i));
  std::vector<std::vector<AppendRecord>> calls(kQueued);
  for (int i = 0; i < kQueued; ++i) {
    calls[i] = {{"k", "", data[i]}};
    store_->AppendAsync(StreamName("s"), calls[i], callback);
  }
  // AppendAsync queued them before returning: they wait behind the held commit.
  uint64_t queued_bytes = 0;
  for (const std::string& d : data)
    queued_bytes += d.size() + 1;  // data + partition key
  EXPECT_EQ(store_->Stats().queued_append_bytes, queued_bytes);
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  {
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait(lock, [&] { return done == kQueued + 1; });
  }
  EXPECT_EQ(failed, 0);
  const StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.committed_records, uint64_t{kQueued + 1});
  // One commit for the first append, one for all ten queued behind it.
  EXPECT_EQ(stats.group_commits, 2u);
  EXPECT_EQ(commits_started, 2);
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), size_t{kQueued + 1});
}

// Records acknowledged, and records in synced / unsynced group-commit writes, counted as the
// store reports its writes (StoreHooks::committed).
struct SyncLedger {
  std::mutex mu;
  uint64_t synced = 0;    // GUARDED_BY(mu)
  uint64_t unsynced = 0;  // GUARDED_BY(mu)
  uint64_t acked = 0;     // GUARDED_BY(mu)
  bool acked_before_synced = false;

  std::function<void(size_t, bool)> Hook() {
    return [this](size_t records, bool synced_write) {
      std::lock_guard<std::mutex> lock(mu);
      (synced_write ? synced : unsynced) += records;
    };
  }
  // Appends from 4 threads, 25 appends of 8 records each, and checks at every acknowledgement
  // that as many records were already in synced writes.
  void Run(Store& store) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&store, this, t] {
        for (int i = 0; i < 25; ++i) {
          std::vector<std::string> data(8, "t" + std::to_string(t) + "-" + std::to_string(i));
          std::vector<AppendRecord> records;
          for (const std::string& d : data)
            records.push_back({d, "", d});
          auto r = store.Append(StreamName("s"), records);
          std::lock_guard<std::mutex> lock(mu);
          if (!r.ok()) continue;
          acked += r->size();
          if (synced < acked) acked_before_synced = true;
        }
      });
    }
    for (auto& th : threads)
      th.join();
  }
};

TEST_F(StoreTest, EveryAcknowledgedRecordWasInASyncedWrite) {
  SyncLedger ledger;
  hooks_.committed = ledger.Hook();
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 2).ok());
  ledger.Run(*store_);
  EXPECT_EQ(ledger.acked, 800u);
  EXPECT_FALSE(ledger.acked_before_synced) << "a record was acknowledged before a synced write";
  EXPECT_EQ(ledger.synced, 800u);
  EXPECT_EQ(ledger.unsynced, 0u);
  EXPECT_EQ(store_->Stats().committed_records, 800u);
}

TEST_F(StoreTest, DurabilityNoneAcknowledgesWithoutSyncing) {
  SyncLedger ledger;
  hooks_.committed = ledger.Hook();
  options_.durability = Durability::kNone;
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 2).ok());
  ledger.Run(*store_);
  EXPECT_EQ(ledger.acked, 800u);
  EXPECT_EQ(ledger.synced, 0u);
  EXPECT_EQ(ledger.unsynced, 800u);  // written (to the WAL), never synced
  EXPECT_EQ(ReadAll("s", kShard0.get()).size() + ReadAll("s", "shardId-000000000001").size(), 800u);
}

TYPED_TEST(StoreContract, ArrivalTimeIsMonotonicPerShardEvenIfClockGoesBack) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a"});
  const int64_t first = this->clock_.NowMs();
  this->clock_.StepWallMs(-5000);
  this->Put("s", {"b"});
  std::vector<int64_t> arrivals;
  auto r = this->store_->Read(StreamName("s"), kShard0, Offset(1), ReadLimits{},
                              [&](const RecordView& v) { arrivals.push_back(v.arrival_ms); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(arrivals, (std::vector<int64_t>{first, first}));
}

TEST_F(StoreTest, SmallGroupCommitLimitStillCommitsLargeAppends) {
  options_.max_group_commit_bytes = 10;
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i)
    keys.push_back("key-" + std::to_string(i));
  EXPECT_EQ(Put("s", keys).size(), 50u);
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), 50u);
}

}  // namespace
}  // namespace tideline::storage
