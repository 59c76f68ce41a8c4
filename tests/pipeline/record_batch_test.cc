// RecordBatch: arena ownership, bytes <-> JSON conversion, dotted paths.
#include "pipeline/record_batch.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/sequence_number.h"

namespace tideline::pipeline {
namespace {

RecordBatch MakeBatch() {
  return RecordBatch(StreamName("logs"), ShardId("shardId-000000000001"), ShardUid(7));
}

TEST(RecordBatchTest, AddCopiesBytesSoTheCallersBufferMayChange) {
  RecordBatch batch = MakeBatch();
  std::string data = "{\"a\":1}";
  std::string key = "pk";
  PipelineRecord& r = batch.Add(Offset(5), 1000, key, data);
  data.assign("xxxxxxx");
  key.assign("zz");
  EXPECT_EQ(r.raw, "{\"a\":1}");
  EXPECT_EQ(r.data, "{\"a\":1}");
  EXPECT_EQ(r.partition_key, "pk");
  EXPECT_EQ(r.offset.get(), 5u);
  EXPECT_TRUE(r.ok());
}

TEST(RecordBatchTest, ViewsStayValidAcrossManyAndLargeRecords) {
  RecordBatch batch = MakeBatch();
  std::vector<std::string> expected;
  for (int i = 0; i < 3000; ++i) {
    expected.push_back(std::string(static_cast<size_t>(i % 7 == 0 ? 100'000 : 150), 'a' + i % 26));
    batch.Add(Offset(i + 1), i, "k", expected.back());
  }
  ASSERT_EQ(batch.records().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(batch.records()[i].raw, expected[i]) << i;
  EXPECT_GE(batch.MemoryBytes(), 3000u * 150);
}

TEST(RecordBatchTest, JsonParsesOnceAndBytesSerializesCompactly) {
  RecordBatch batch = MakeBatch();
  PipelineRecord& r = batch.Add(Offset(1), 0, "k", " { \"a\" : [1, 2], \"b\": \"x\" } \n");
  JsonValue* v = batch.Json(r);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(batch.Json(r), v);  // no second parse
  (*v)["a"].PushBack(3, batch.allocator());
  EXPECT_EQ(batch.Bytes(r), "{\"a\":[1,2,3],\"b\":\"x\"}");
  EXPECT_EQ(r.json, nullptr);
  EXPECT_EQ(r.raw, " { \"a\" : [1, 2], \"b\": \"x\" } \n");  // the stored record never changes
}

TEST(RecordBatchTest, JsonRejectsInvalidAndTrailingDataWithAReason) {
  RecordBatch batch = MakeBatch();
  for (const char* bad : {"", "not json", "{\"a\":1} extra", "{\"a\":", "[1,]"}) {
    PipelineRecord& r = batch.Add(Offset(1), 0, "k", bad);
    std::string error;
    EXPECT_EQ(batch.Json(r, &error), nullptr) << bad;
    EXPECT_NE(error.find("at offset"), std::string::npos) << error;
    EXPECT_EQ(r.data, bad);
    EXPECT_TRUE(r.ok());
  }
}

TEST(RecordBatchTest, FailRecordsCodeAndMessage) {
  RecordBatch batch = MakeBatch();
  PipelineRecord& r = batch.Add(Offset(1), 0, "k", "x");
  RecordBatch::Fail(r, "AccessLog.ParseFailed", "bad line");
  EXPECT_EQ(r.result, RecordResult::kProcessingFailed);
  EXPECT_EQ(r.error_code, "AccessLog.ParseFailed");
  EXPECT_EQ(r.error_message, "bad line");
  EXPECT_EQ(RecordResultName(r.result), "ProcessingFailed");
}

TEST(RecordBatchTest, SequenceNumberEncodesShardUidAndOffset) {
  RecordBatch batch = MakeBatch();
  PipelineRecord& r = batch.Add(Offset(42), 0, "k", "x");
  const SequenceNumber seq = batch.SequenceNumberOf(r);
  auto pos = DecodeSequenceNumber(seq.get());
  ASSERT_TRUE(pos);
  EXPECT_EQ(pos->shard_uid, 7u);
  EXPECT_EQ(pos->offset, 42u);
}

TEST(JsonPathTest, SetFindAndRemoveNestedFields) {
  RecordBatch batch = MakeBatch();
  PipelineRecord& r = batch.Add(Offset(1), 0, "k", "{\"a\":{\"b\":1},\"s\":\"str\"}");
  JsonValue& root = *batch.Json(r);
  ASSERT_NE(FindField(root, "a.b"), nullptr);
  EXPECT_EQ(FindField(root, "a.b")->GetInt(), 1);
  EXPECT_EQ(FindField(root, "a.c"), nullptr);
  EXPECT_EQ(FindField(root, "s.x"), nullptr);  // not an object on the way

  EXPECT_TRUE(SetField(root, "geo.location.lat", JsonValue(1.5), batch.allocator()));
  EXPECT_TRUE(SetField(root, "s.inner", JsonValue(2), batch.allocator()));  // replaces "str"
  EXPECT_TRUE(SetField(root, "a.b", JsonValue(9), batch.allocator()));
  JsonValue removed;
  EXPECT_TRUE(RemoveField(root, "a.b", &removed));
  EXPECT_EQ(removed.GetInt(), 9);
  EXPECT_FALSE(RemoveField(root, "a.b"));
  EXPECT_FALSE(RemoveField(root, "missing.deep"));
  EXPECT_EQ(batch.Bytes(r), "{\"a\":{},\"s\":{\"inner\":2},\"geo\":{\"location\":{\"lat\":1.5}}}");
}

TEST(JsonPathTest, SetFieldRefusesANonObjectRoot) {
  RecordBatch batch = MakeBatch();
  PipelineRecord& r = batch.Add(Offset(1), 0, "k", "[1]");
  EXPECT_FALSE(SetField(*batch.Json(r), "a", JsonValue(1), batch.allocator()));
  EXPECT_EQ(batch.Bytes(r), "[1]");
}

}  // namespace
}  // namespace tideline::pipeline
