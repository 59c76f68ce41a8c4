// Randomized model test: random appends, clock moves, trims, reopens (of the durable store) and
// checkpoint moves, checked against a simple model after every step, on every Store.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "storage/sequence_number.h"
#include "store_fixture.h"

namespace tideline::storage {
namespace {

struct ModelRecord {
  uint64_t offset;
  std::string data;
  int64_t arrival;
};

struct ModelShard {
  uint64_t uid = 0;
  uint64_t trim = 1;
  uint64_t last = 0;
  std::vector<ModelRecord> records;  // offsets trim..last
};

constexpr int64_t kRetentionMs = 10'000;
constexpr int kShards = 3;

// One run of random operations on a fresh store of `kind`, checked against the model.
class ModelRun {
 public:
  explicit ModelRun(testing::StoreKind kind) : store_(kind) {
    store_.hooks().retention_override = std::chrono::milliseconds(kRetentionMs);
  }

  void Run(uint64_t seed) {
    std::mt19937_64 rng(seed);
    ASSERT_TRUE(store_.Open().ok());
    ASSERT_TRUE(store_->CreateStream(StreamName("m"), kShards).ok());
    auto info = store_->DescribeStream(StreamName("m"));
    for (int i = 0; i < kShards; ++i)
      shards_[i].uid = info->shards[i].uid.get();
    for (int step = 0; step < 150; ++step) {
      const auto op = rng() % 100;
      if (op < 55) {
        Append(rng);
      } else if (op < 70) {
        store_.clock().AdvanceMs(static_cast<int64_t>(rng() % 4000));
      } else if (op < 80) {
        Trim();
      } else if (op < 92) {
        MoveCheckpoint(rng);
      } else if (store_.kind() == testing::StoreKind::kRocksDb) {
        ASSERT_TRUE(store_.Reopen().ok());  // a durable store must come back as it was
      }
      if (::testing::Test::HasFatalFailure()) return;
      Verify();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

 private:
  void Append(std::mt19937_64& rng) {
    const size_t n = 1 + rng() % 12;
    std::vector<std::string> ehk(n), data(n), pk(n);
    std::vector<AppendRecord> records;
    const auto ranges = EvenHashKeyRanges(kShards);
    for (size_t i = 0; i < n; ++i) {
      pk[i] = "pk" + std::to_string(rng() % 100);
      data[i] = "v" + std::to_string(counter_++);
      if (rng() % 2 == 0) {
        const auto& range = ranges[rng() % kShards];
        ehk[i] = HashKeyToDecimal(range.start + (range.end - range.start) / 2);
      }
      records.push_back({pk[i], ehk[i], data[i]});
    }
    auto r = store_->Append(StreamName("m"), records);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), n);
    for (size_t i = 0; i < n; ++i) {
      const auto index = std::stoi((*r)[i].shard_id.get().substr(8));
      ModelShard& shard = shards_[index];
      const HashKey expected_key =
          ehk[i].empty() ? HashKeyFromPartitionKey(pk[i]) : *ParseHashKey(ehk[i]);
      ASSERT_GE(expected_key, ranges[index].start);
      ASSERT_LE(expected_key, ranges[index].end);
      ++shard.last;
      ASSERT_EQ((*r)[i].sequence_number, EncodeSequenceNumber({shard.uid, shard.last}));
      const int64_t prev = shard.records.empty() ? 0 : shard.records.back().arrival;
      shard.records.push_back({shard.last, data[i], std::max(prev, store_.clock().NowMs())});
      max_arrival_[index] = std::max(max_arrival_[index], shard.records.back().arrival);
    }
  }

  void Trim() {
    auto removed = store_->TrimExpired();
    ASSERT_TRUE(removed.ok());
    uint64_t expected = 0;
    const int64_t cutoff = store_.clock().NowMs() - kRetentionMs;
    for (auto& shard : shards_) {
      while (!shard.records.empty() && shard.records.front().arrival < cutoff) {
        shard.records.erase(shard.records.begin());
        ++shard.trim;
        ++expected;
      }
    }
    EXPECT_EQ(*removed, expected);
  }

  void MoveCheckpoint(std::mt19937_64& rng) {
    const int index = static_cast<int>(rng() % kShards);
    ModelShard& shard = shards_[index];
    if (shard.last == 0) return;
    const uint64_t offset = 1 + rng() % shard.last;  // any issued offset, trimmed or not
    const ShardId id(keys_[index]);
    const std::string app = rng() % 2 ? "app1" : "app2";
    ASSERT_TRUE(store_
                    ->SetCheckpoint(CheckpointOwner(app), StreamName("m"), id,
                                    EncodeSequenceNumber({shard.uid, offset}))
                    .ok());
    checkpoints_[{app, index}] = offset;
  }

  void Verify() {
    auto info = store_->DescribeStream(StreamName("m"));
    ASSERT_TRUE(info.ok());
    for (int i = 0; i < kShards; ++i) {
      const ModelShard& shard = shards_[i];
      EXPECT_EQ(info->shards[i].last_offset.get(), shard.last);
      EXPECT_EQ(info->shards[i].trim_offset.get(), shard.trim);
      std::vector<ModelRecord> got;
      Offset next(0);
      for (;;) {
        auto r = store_->Read(StreamName("m"), ShardId(keys_[i]), next, ReadLimits{7, 1 << 20},
                              [&](const RecordView& v) {
                                got.push_back({v.offset.get(), std::string(v.data), v.arrival_ms});
                              });
        ASSERT_TRUE(r.ok());
        if (r->records == 0) break;
        next = r->next;
      }
      ASSERT_EQ(got.size(), shard.records.size()) << "shard " << i;
      for (size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k].offset, shard.records[k].offset);
        EXPECT_EQ(got[k].data, shard.records[k].data);
        EXPECT_EQ(got[k].arrival, shard.records[k].arrival);
      }
    }
    for (const auto& [key, offset] : checkpoints_) {
      auto cp = store_->GetCheckpoint(CheckpointOwner(key.first), StreamName("m"),
                                      ShardId(keys_[key.second]));
      ASSERT_TRUE(cp.ok());
      EXPECT_EQ(cp->offset.get(), offset);
    }
    EXPECT_EQ(store_->ListCheckpoints(CheckpointOwner("")).size(), checkpoints_.size());
  }

  testing::TestStore store_;
  ModelShard shards_[kShards];
  int64_t max_arrival_[kShards] = {};
  std::string keys_[kShards] = {"shardId-000000000000", "shardId-000000000001",
                                "shardId-000000000002"};
  std::map<std::pair<std::string, int>, uint64_t> checkpoints_;
  uint64_t counter_ = 0;
};

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

TYPED_TEST(StoreContract, RandomOperationsMatchASimpleModel) {
  for (uint64_t seed : {1, 2, 3, 42, 2024}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ModelRun(TypeParam::kKind).Run(seed);
    if (this->HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tideline::storage
