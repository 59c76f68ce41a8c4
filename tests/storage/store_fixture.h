// Shared fixture: a store in a temp dir with fake clocks and a fake free-space reading that
// tests move by hand.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "storage/store.h"
#include "test_util/manual_clock.h"
#include "test_util/temp_dir.h"

namespace tideline::storage {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = dir_.Sub("data");
    hooks_.clock = &clock_;
    hooks_.free_bytes = [this] {
      ++free_bytes_reads_;
      return free_bytes_.load();
    };
    // The background trimmer must not race tests; they call TrimExpired themselves.
    options_.trim_interval = std::chrono::hours(24);
    Reopen();
  }

  void Reopen() {
    store_.reset();
    auto opened = Store::Open(options_, hooks_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
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

  testing::TempDir dir_;
  StoreOptions options_;
  StoreHooks hooks_;
  testing::ManualClock clock_;
  std::atomic<uint64_t> free_bytes_{uint64_t{1} << 40};
  std::atomic<int> free_bytes_reads_{0};
  std::unique_ptr<Store> store_;
};

inline const ShardId kShard0("shardId-000000000000");
inline const ShardId kShard1("shardId-000000000001");

}  // namespace tideline::storage
