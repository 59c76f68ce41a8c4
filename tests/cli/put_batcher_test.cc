#include "cli/put_batcher.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>

#include "common/base64.h"

namespace tideline::cli {
namespace {

// Feeds records through a batcher the way `tideline put` does and returns the batches.
std::vector<std::vector<PendingRecord>> Batch(const std::vector<PendingRecord>& records) {
  PutBatcher batcher;
  std::vector<std::vector<PendingRecord>> batches;
  for (const auto& r : records) {
    if (!batcher.Fits(r)) batches.push_back(batcher.Take());
    batcher.Add(r);
  }
  if (!batcher.empty()) batches.push_back(batcher.Take());
  return batches;
}

void ExpectWithinLimits(const std::vector<std::vector<PendingRecord>>& batches, size_t total) {
  size_t seen = 0;
  for (const auto& b : batches) {
    EXPECT_FALSE(b.empty());
    EXPECT_LE(b.size(), kMaxRecordsPerPut);
    size_t bytes = 0;
    for (const auto& r : b)
      bytes += r.size();
    EXPECT_LE(bytes, kMaxBytesPerPut);
    seen += b.size();
  }
  EXPECT_EQ(seen, total);
}

TEST(PutBatcher, SplitsAt500Records) {
  std::vector<PendingRecord> records;
  for (int i = 0; i < 1201; ++i)
    records.push_back({"line " + std::to_string(i), "k"});
  const auto batches = Batch(records);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), kMaxRecordsPerPut);
  EXPECT_EQ(batches[1].size(), kMaxRecordsPerPut);
  ExpectWithinLimits(batches, records.size());
  EXPECT_EQ(batches[2].back().data, records.back().data);  // order kept
}

TEST(PutBatcher, SplitsAtFiveMiBIncludingPartitionKeys) {
  std::vector<PendingRecord> records;
  const std::string key(200, 'k');
  for (int i = 0; i < 23; ++i)
    records.push_back({std::string(kMaxRecordBytes - key.size(), 'x'), key});
  const auto batches = Batch(records);
  ExpectWithinLimits(batches, records.size());
  EXPECT_EQ(batches.front().size(), kMaxBytesPerPut / kMaxRecordBytes);
}

TEST(PartitionKeyForLine, IsStableHexAndSpreads) {
  EXPECT_EQ(PartitionKeyForLine("GET /index.html"), PartitionKeyForLine("GET /index.html"));
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = PartitionKeyForLine("line " + std::to_string(i));
    EXPECT_EQ(key.size(), 16u);
    EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 1000u);
}

TEST(BuildPutRecordsRequest, CarriesBase64DataAndKeysInOrder) {
  const std::vector<PendingRecord> records = {{"a \"quoted\" line", "k1"},
                                              {std::string("bin\0\xff", 5), "k2"}};
  const std::string body = BuildPutRecordsRequest("my-stream", records);
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["StreamName"].GetString(), "my-stream");
  ASSERT_EQ(doc["Records"].Size(), 2u);
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    const auto& r = doc["Records"][i];
    EXPECT_EQ(Base64Decode(r["Data"].GetString()), records[i].data);
    EXPECT_EQ(r["PartitionKey"].GetString(), records[i].partition_key);
  }
}

}  // namespace
}  // namespace tideline::cli
