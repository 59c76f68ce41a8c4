// Commit observers (Store::AddCommitObserver), the asynchronous form of WaitForRecords, on every
// Store implementation: they hear of each durable commit with its shards, of reshards, deletions
// and WakeWaiters, and never again once removed.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store_fixture.h"

namespace tideline::storage {
namespace {

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

// ExplicitHashKeys that route to shard 0 and shard 1 of a two-shard stream.
constexpr const char* kKeyOfShard0 = "0";
constexpr const char* kKeyOfShard1 = "170141183460469231731687303715884105728";  // 2^127

// What an observer saw: each call's shard uids, and the last offset a Read of shard 0 found
// from inside the call (the records must already be readable then).
struct Seen {
  std::mutex mu;
  std::vector<std::vector<uint64_t>> calls;
  std::vector<uint64_t> shard0_last;
  std::vector<StatusCode> read_codes;

  void Record(const Store& store, std::span<const ShardUid> shards) {
    std::vector<uint64_t> uids;
    for (const ShardUid& uid : shards)
      uids.push_back(uid.get());
    auto read =
        store.Read(StreamName("s"), kShard0, Offset(1), ReadLimits{}, [](const RecordView&) {});
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(std::move(uids));
    read_codes.push_back(read.status().code());
    shard0_last.push_back(read.ok() ? read->last_offset.get() : 0);
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return calls.size();
  }
};

uint64_t UidOf(const Store& store, const ShardId& shard) {
  auto info = store.DescribeStream(StreamName("s"));
  EXPECT_TRUE(info.ok());
  for (const ShardInfo& s : info->shards) {
    if (s.id == shard) return s.uid.get();
  }
  ADD_FAILURE() << "no " << shard.get();
  return 0;
}

TYPED_TEST(StoreContract, CommitObserverHearsOfEachCommitsShardsBeforeItIsAcknowledged) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 2).ok());
  const Store& store = *this->store_.get();
  const uint64_t uid0 = UidOf(store, kShard0);
  const uint64_t uid1 = UidOf(store, kShard1);
  Seen seen;
  const uint64_t id = store.AddCommitObserver(
      [&](std::span<const ShardUid> shards) { seen.Record(store, shards); });
  EXPECT_NE(id, 0u);

  this->Put("s", {"a"}, kKeyOfShard0);
  // Append returned, so its acknowledgement came after the observer ran.
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.calls[0], std::vector<uint64_t>{uid0});
  EXPECT_EQ(seen.shard0_last[0], 1u) << "the committed record must be readable in the call";

  this->Put("s", {"b"}, kKeyOfShard1);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.calls[1], std::vector<uint64_t>{uid1});

  // One append to both shards is one commit naming both, each once.
  std::vector<AppendRecord> both = {
      {"c", kKeyOfShard0, "x"}, {"d", kKeyOfShard1, "y"}, {"e", kKeyOfShard0, "z"}};
  ASSERT_TRUE(this->store_->Append(StreamName("s"), both).ok());
  ASSERT_EQ(seen.size(), 3u);
  std::vector<uint64_t> named = seen.calls[2];
  std::sort(named.begin(), named.end());
  EXPECT_EQ(named, (std::vector<uint64_t>{std::min(uid0, uid1), std::max(uid0, uid1)}));
  EXPECT_EQ(seen.shard0_last[2], 3u);
  store.RemoveCommitObserver(id);
}

TYPED_TEST(StoreContract, CommitObserverHearsOfReshardsWakesAndDeletion) {
  this->ReopenWithoutUpdatingDelay();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  const Store& store = *this->store_.get();
  Seen seen;
  const uint64_t id = store.AddCommitObserver(
      [&](std::span<const ShardUid> shards) { seen.Record(store, shards); });

  ASSERT_TRUE(this->store_->SplitShard(StreamName("s"), kShard0, HashKey{1} << 127).ok());
  ASSERT_GE(seen.size(), 1u);
  EXPECT_TRUE(seen.calls.back().empty()) << "a reshard asks every reader to look again";
  const size_t after_split = seen.size();

  store.WakeWaiters();
  ASSERT_EQ(seen.size(), after_split + 1);
  EXPECT_TRUE(seen.calls.back().empty());

  ASSERT_TRUE(this->store_->DeleteStream(StreamName("s")).ok());
  ASSERT_GE(seen.size(), after_split + 2);
  EXPECT_TRUE(seen.calls.back().empty());
  // By the time readers are told, the stream's reads already fail.
  EXPECT_EQ(seen.read_codes.back(), StatusCode::kNotFound);
  store.RemoveCommitObserver(id);
}

TYPED_TEST(StoreContract, RemovedCommitObserverWaitsOutARunningCallAndIsNeverCalledAgain) {
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  const Store& store = *this->store_.get();
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  const uint64_t id = store.AddCommitObserver([&](std::span<const ShardUid>) {
    if (calls.fetch_add(1) == 0) {
      entered.set_value();
      released.wait();
    }
  });
  // The first commit's observer call blocks (on the writer thread, or the appending one).
  std::thread append([&] { this->Put("s", {"a"}); });
  entered.get_future().wait();
  auto removed = std::async(std::launch::async, [&] { store.RemoveCommitObserver(id); });
  EXPECT_EQ(removed.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout)
      << "RemoveCommitObserver returned while the observer was still running";
  release.set_value();
  removed.get();
  append.join();
  this->Put("s", {"b"});
  store.WakeWaiters();
  EXPECT_EQ(calls.load(), 1);
  store.RemoveCommitObserver(id);  // an id no longer registered: ignored
  store.RemoveCommitObserver(12345);
}

}  // namespace
}  // namespace tideline::storage
