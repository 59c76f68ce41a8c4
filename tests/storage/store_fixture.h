// Shared fixtures: a store (testing::TestStore) with a manual clock and a fake free-space
// reading that tests move by hand. StoreTest runs on the RocksDB store; StoreContract<Impl>
// is the typed fixture for tests of the Store contract, run on every implementation.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "storage/store.h"
#include "test_util/test_store.h"

namespace tideline::storage {

class StoreTest : public ::testing::Test {
 protected:
  explicit StoreTest(testing::StoreKind kind = testing::StoreKind::kRocksDb) : store_(kind) {}

  void SetUp() override { Reopen(); }

  // Opens the store again with options_ and hooks_ (the memory store starts empty).
  void Reopen() {
    const Status s = store_.Reopen();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Reopens with StoreOptions::reshard_updating_delay 0, so that reshards may follow each other.
  void ReopenWithoutUpdatingDelay() {
    options_.reshard_updating_delay = std::chrono::milliseconds(0);
    Reopen();
  }

  // A durable store must answer the same after a reopen; the memory store has nothing to
  // reopen, so for it this checks only that the answer was kept in memory.
  void ReopenIfDurable() {
    if (store_.kind() == testing::StoreKind::kRocksDb) Reopen();
  }

  // Appends records with the given partition keys (data = "d-" + key) and returns their
  // sequence numbers; fails the test on error.
  std::vector<AppendedRecord> Put(const std::string& stream, const std::vector<std::string>& pks,
                                  std::string explicit_hash_key = "") {
    std::vector<std::string> data;
    data.reserve(pks.size());
    for (const auto& pk : pks)
      data.push_back("d-" + pk);
    std::vector<AppendRecord> records;
    for (size_t i = 0; i < pks.size(); ++i) {
      records.push_back({pks[i], explicit_hash_key, data[i]});
    }
    auto result = store_->Append(StreamName(stream), records);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : std::vector<AppendedRecord>{};
  }

  // Reads the whole shard from `from`, returning (offset, data) pairs.
  std::vector<std::pair<uint64_t, std::string>> ReadAll(const std::string& stream,
                                                        const std::string& shard,
                                                        uint64_t from = 0) {
    std::vector<std::pair<uint64_t, std::string>> out;
    Offset next(from);
    for (;;) {
      auto r = store_->Read(
          StreamName(stream), ShardId(shard), next, ReadLimits{},
          [&](const RecordView& v) { out.emplace_back(v.offset.get(), std::string(v.data)); });
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->records == 0) break;
      next = r->next;
    }
    return out;
  }

  testing::TestStore store_;
  StoreOptions& options_ = store_.options();
  StoreHooks& hooks_ = store_.hooks();
  testing::ManualClock& clock_ = store_.clock();
  std::atomic<uint64_t>& free_bytes_ = store_.free_bytes();
};

// The implementations the contract tests run on.
struct RocksDbStoreImpl {
  static constexpr testing::StoreKind kKind = testing::StoreKind::kRocksDb;
};
struct MemoryStoreImpl {
  static constexpr testing::StoreKind kKind = testing::StoreKind::kMemory;
};
using StoreImpls = ::testing::Types<RocksDbStoreImpl, MemoryStoreImpl>;
// Test names end in /RocksDb or /Memory rather than /0 and /1.
struct StoreImplNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kKind == testing::StoreKind::kRocksDb ? "RocksDb" : "Memory";
  }
};

// The one typed suite of contract tests, spread over several files: each file that adds to it
// says TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames) once.
template <typename Impl>
class StoreContract : public StoreTest {
 protected:
  StoreContract() : StoreTest(Impl::kKind) {}
};

inline const ShardId kShard0("shardId-000000000000");
inline const ShardId kShard1("shardId-000000000001");

}  // namespace tideline::storage
