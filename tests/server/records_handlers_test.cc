// PutRecord(s), GetShardIterator and GetRecords against a real Store, with an injected clock.
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>

#include "common/base64.h"
#include "handler_fixture.h"
#include "iterator_token.h"
#include "storage/hash_key.h"

namespace tideline::server {
namespace {

std::string B64(std::string_view s) {
  std::string out;
  Base64Append(s, out);
  return out;
}

class RecordsTest : public HandlerTest {
 protected:
  std::string Iterator(const std::string& stream, const std::string& shard, const std::string& type,
                       const std::string& extra = "") {
    const ApiResponse r =
        Call(&HandleGetShardIterator, R"({"StreamName":")" + stream + R"(","ShardId":")" + shard +
                                          R"(","ShardIteratorType":")" + type + "\"" + extra + "}");
    EXPECT_EQ(r.status, 200u) << r.body;
    auto d = Json(r);
    return d.HasMember("ShardIterator") ? d["ShardIterator"].GetString() : "";
  }

  ApiResponse GetRecords(const std::string& iterator, int limit = 0) {
    std::string body = R"({"ShardIterator":")" + iterator + "\"";
    if (limit > 0) body += ",\"Limit\":" + std::to_string(limit);
    return Call(&HandleGetRecords, body + "}");
  }

  ApiResponse PutOne(const std::string& stream, const std::string& data, const std::string& key) {
    return Call(&HandlePutRecord, R"({"StreamName":")" + stream + R"(","Data":")" + B64(data) +
                                      R"(","PartitionKey":")" + key + "\"}");
  }

  static std::string Records(const std::vector<std::string>& entries) {
    std::string body = R"({"StreamName":"s","Records":[)";
    for (size_t i = 0; i < entries.size(); ++i)
      body += (i ? "," : "") + entries[i];
    return body + "]}";
  }

  static std::string Entry(const std::string& data, const std::string& key,
                           const std::string& hash_key = "") {
    std::string e = R"({"Data":")" + B64(data) + R"(","PartitionKey":")" + key + "\"";
    if (!hash_key.empty()) e += R"(,"ExplicitHashKey":")" + hash_key + "\"";
    return e + "}";
  }
};

TEST_F(RecordsTest, PutRecordThenGetRecordsReturnsTheRecord) {
  CreateStream("s", 1);
  const ApiResponse put = PutOne("s", "hello \x01\xff world", "pk");
  ASSERT_EQ(put.status, 200u) << put.body;
  auto p = Json(put);
  const std::string shard = p["ShardId"].GetString();
  const std::string seq = p["SequenceNumber"].GetString();
  EXPECT_EQ(shard, "shardId-000000000000");

  const ApiResponse got = GetRecords(Iterator("s", shard, "TRIM_HORIZON"));
  ASSERT_EQ(got.status, 200u) << got.body;
  auto g = Json(got);
  ASSERT_EQ(g["Records"].Size(), 1u);
  const auto& rec = g["Records"][0];
  EXPECT_EQ(rec["SequenceNumber"].GetString(), seq);
  EXPECT_EQ(rec["Data"].GetString(), B64("hello \x01\xff world"));
  EXPECT_STREQ(rec["PartitionKey"].GetString(), "pk");
  ASSERT_TRUE(rec["ApproximateArrivalTimestamp"].IsDouble());
  EXPECT_NEAR(rec["ApproximateArrivalTimestamp"].GetDouble(), kStartMs / 1000.0, 0.0005);
  EXPECT_EQ(g["MillisBehindLatest"].GetInt64(), 0);
  ASSERT_TRUE(g["NextShardIterator"].IsString());

  auto again = Json(GetRecords(g["NextShardIterator"].GetString()));
  EXPECT_EQ(again["Records"].Size(), 0u);
  EXPECT_EQ(again["MillisBehindLatest"].GetInt64(), 0);
}

TEST_F(RecordsTest, PutRecordsReportsPerRecordSequenceNumbersInOrder) {
  CreateStream("s", 1);
  const ApiResponse r =
      Call(&HandlePutRecords, Records({Entry("a", "k1"), Entry("b", "k2"), Entry("", "k3")}));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.records, 3u);
  EXPECT_EQ(r.bytes, 2u + 6u);
  auto d = Json(r);
  EXPECT_EQ(d["FailedRecordCount"].GetInt(), 0);
  ASSERT_EQ(d["Records"].Size(), 3u);
  std::string prev;
  for (const auto& rec : d["Records"].GetArray()) {
    EXPECT_STREQ(rec["ShardId"].GetString(), "shardId-000000000000");
    const std::string seq = rec["SequenceNumber"].GetString();
    EXPECT_GT(seq, prev);
    prev = seq;
  }
}

TEST_F(RecordsTest, PutRecordsRejectsMoreThan500Records) {
  CreateStream("s", 1);
  std::vector<std::string> entries(501, Entry("x", "k"));
  std::string shown = "PutRecordsRequestEntry";
  for (int i = 1; i < 501; ++i)
    shown += ", PutRecordsRequestEntry";
  ExpectError(Call(&HandlePutRecords, Records(entries)), "ValidationException", 400,
              "1 validation error detected: Value '[" + shown +
                  "]' at 'records' failed to satisfy constraint: Member must have length less "
                  "than or equal to 500");
  std::vector<std::string> ok(500, Entry("x", "k"));
  EXPECT_EQ(Call(&HandlePutRecords, Records(ok)).status, 200u);
  ExpectError(Call(&HandlePutRecords, Records({})), "ValidationException", 400,
              "1 validation error detected: Value '[]' at 'records' failed to satisfy "
              "constraint: Member must have length greater than or equal to 1");
}

TEST_F(RecordsTest, PartitionKeyLongerThan256CharactersIsValidationException) {
  CreateStream("s", 1);
  const std::string key(257, 'k');
  ExpectError(Call(&HandlePutRecords, Records({Entry("x", "ok"), Entry("x", key)})),
              "ValidationException", 400,
              "1 validation error detected: Value '" + key +
                  "' at 'records.2.member.partitionKey' failed to satisfy constraint: Member "
                  "must have length less than or equal to 256");
  ExpectError(PutOne("s", "x", ""), "ValidationException", 400,
              "1 validation error detected: Value '' at 'partitionKey' failed to satisfy "
              "constraint: Member must have length greater than or equal to 1");
  // 256 multi-byte characters are 256 characters, not 512 bytes.
  std::string wide;
  for (int i = 0; i < 256; ++i)
    wide += "\xc3\xa9";
  EXPECT_EQ(PutOne("s", "x", wide).status, 200u);
}

TEST_F(RecordsTest, RecordDataOver1MiBIsValidationException) {
  CreateStream("s", 1);
  ExpectError(PutOne("s", std::string((1u << 20) + 1, 'd'), "k"), "ValidationException", 400,
              "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 "
              "cap=1048577]' at 'data' failed to satisfy constraint: Member must have length "
              "less than or equal to 1048576");
  EXPECT_EQ(PutOne("s", std::string(1u << 20, 'd'), "k").status, 200u);
}

TEST_F(RecordsTest, PutRecordsOver5MiBTotalIsInvalidArgument) {
  CreateStream("s", 1);
  std::vector<std::string> entries(6, Entry(std::string(1u << 20, 'd'), "k"));
  ExpectError(Call(&HandlePutRecords, Records(entries)), "InvalidArgumentException", 400,
              "Records size exceeds 5 MB limit");
}

TEST_F(RecordsTest, FullAppendQueueIsProvisionedThroughputExceededPerRecordAndPerRequest) {
  // The writer is held inside its first commit; the queue bound is 4 KiB.
  std::mutex mu;
  std::condition_variable cv;
  bool hold = true;
  int entered = 0;
  OpenStore(
      [&] {
        std::unique_lock<std::mutex> lock(mu);
        ++entered;
        cv.notify_all();
        cv.wait(lock, [&] { return !hold; });
        return Status::Ok();
      },
      4096);
  hold = false;  // CreateStream commits through the hook too
  CreateStream("s", 1);
  int before = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    hold = true;
    before = entered;
  }
  std::promise<ApiResponse> first_done;
  HandlePutRecord(ctx_,
                  std::make_shared<std::string>(R"({"StreamName":"s","Data":")" + B64("first") +
                                                R"(","PartitionKey":"k"})"),
                  [&](ApiResponse r) { first_done.set_value(std::move(r)); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered > before; });  // the first put is being committed
  }
  // Fills the (now empty) queue; waits behind the held commit.
  std::promise<ApiResponse> second_done;
  HandlePutRecords(
      ctx_,
      std::make_shared<std::string>(Records({Entry(std::string(3000, 'a'), "k"), Entry("b", "k")})),
      [&](ApiResponse r) { second_done.set_value(std::move(r)); });
  // Over the bound: PutRecords answers 200 with every record throttled, PutRecord the error.
  const ApiResponse throttled =
      Call(&HandlePutRecords, Records({Entry(std::string(2000, 'c'), "k")}));
  ASSERT_EQ(throttled.status, 200u) << throttled.body;
  auto t = Json(throttled);
  EXPECT_EQ(t["FailedRecordCount"].GetUint(), 1u);
  EXPECT_STREQ(t["Records"][0]["ErrorCode"].GetString(), "ProvisionedThroughputExceededException");
  EXPECT_FALSE(t["Records"][0].HasMember("SequenceNumber"));
  ExpectError(PutOne("s", std::string(2000, 'd'), "k"), "ProvisionedThroughputExceededException",
              400, "");
  {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
    cv.notify_all();
  }
  EXPECT_EQ(first_done.get_future().get().status, 200u);
  const ApiResponse second = second_done.get_future().get();
  EXPECT_EQ(Json(second)["FailedRecordCount"].GetUint(), 0u) << second.body;
  EXPECT_EQ(PutOne("s", "after", "k").status, 200u);  // accepted again once the queue drains
}

TEST_F(RecordsTest, InvalidBase64IsSerializationException) {
  CreateStream("s", 1);
  ExpectError(Call(&HandlePutRecord, R"({"StreamName":"s","Data":"a$==","PartitionKey":"k"})"),
              "SerializationException", 400, "");
  ExpectError(Call(&HandlePutRecords,
                   R"({"StreamName":"s","Records":[{"Data":"abc","PartitionKey":"k"}]})"),
              "SerializationException", 400, "");
  ExpectError(Call(&HandlePutRecords, R"({"StreamName":"s","Records":"nope"})"),
              "SerializationException", 400, "");
  ExpectError(Call(&HandlePutRecords, R"({"StreamName":"s","Records":[{"Data":"YQ==")"),
              "SerializationException", 400, "");
}

TEST_F(RecordsTest, ExplicitHashKeyRoutesToTheShardOwningIt) {
  CreateStream("s", 2);
  const std::string max = HashKeyToDecimal(kMaxHashKey);
  auto d =
      Json(Call(&HandlePutRecords, Records({Entry("a", "same", "0"), Entry("b", "same", max)})));
  ASSERT_EQ(d["FailedRecordCount"].GetInt(), 0);
  EXPECT_STREQ(d["Records"][0]["ShardId"].GetString(), "shardId-000000000000");
  EXPECT_STREQ(d["Records"][1]["ShardId"].GetString(), "shardId-000000000001");

  ExpectError(Call(&HandlePutRecords,
                   Records({Entry("a", "k", "340282366920938463463374607431768211456")})),
              "InvalidArgumentException", 400, "Invalid ExplicitHashKey.");
  ExpectError(Call(&HandlePutRecords, Records({Entry("a", "k", "01")})), "ValidationException", 400,
              "1 validation error detected: Value '01' at 'records.1.member.explicitHashKey' "
              "failed to satisfy constraint: Member must satisfy regular expression pattern");
}

TEST_F(RecordsTest, PutToMissingStreamIsResourceNotFound) {
  ExpectError(Call(&HandlePutRecords, Records({Entry("a", "k")})), "ResourceNotFoundException", 400,
              "Stream s under account 123456789012 not found.");
  ExpectError(PutOne("nope", "a", "k"), "ResourceNotFoundException", 400,
              "Stream nope under account 123456789012 not found.");
}

TEST_F(RecordsTest, FailedBatchWriteIsReportedPerRecordWithStatus200) {
  std::atomic<bool> fail{false};
  OpenStore([&fail] { return fail ? Status::IOError("injected fsync failure") : Status::Ok(); });
  CreateStream("s", 1);
  fail = true;
  const ApiResponse r = Call(&HandlePutRecords, Records({Entry("a", "k"), Entry("b", "k")}));
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(r);
  EXPECT_EQ(d["FailedRecordCount"].GetInt(), 2);
  for (const auto& rec : d["Records"].GetArray()) {
    EXPECT_STREQ(rec["ErrorCode"].GetString(), "InternalFailure");
    EXPECT_TRUE(rec.HasMember("ErrorMessage"));
    EXPECT_FALSE(rec.HasMember("SequenceNumber"));
  }
  ExpectError(PutOne("s", "a", "k"), "InternalFailure", 500, "");
}

TEST_F(RecordsTest, GetRecordsReportsMillisBehindLatestAndContinues) {
  CreateStream("s", 1);
  for (const char* v : {"1", "2", "3"})
    ASSERT_EQ(PutOne("s", v, "k").status, 200u);
  const std::string it = Iterator("s", "shardId-000000000000", "TRIM_HORIZON");
  clock_.AdvanceMs(5000);
  auto first = Json(GetRecords(it, 1));
  ASSERT_EQ(first["Records"].Size(), 1u);
  EXPECT_EQ(first["Records"][0]["Data"].GetString(), B64("1"));
  EXPECT_EQ(first["MillisBehindLatest"].GetInt64(), 5000);
  auto rest = Json(GetRecords(first["NextShardIterator"].GetString(), 10));
  ASSERT_EQ(rest["Records"].Size(), 2u);
  EXPECT_EQ(rest["Records"][1]["Data"].GetString(), B64("3"));
  EXPECT_EQ(rest["MillisBehindLatest"].GetInt64(), 0);
  ExpectError(GetRecords(it, 10001), "ValidationException", 400,
              "1 validation error detected: Value '10001' at 'limit'");
}

TEST_F(RecordsTest, GetRecordsReturnsAtMost10MiBAndTheNextIteratorContinuesWithoutAGap) {
  CreateStream("s", 1);
  // 12 records of 1,000,000 bytes (11.4 MiB): 10 fit in 10 MiB, an 11th would not.
  constexpr size_t kRecordBytes = 1'000'000;
  constexpr int kRecords = 12;
  for (int i = 0; i < kRecords; ++i) {
    const std::string data(kRecordBytes, static_cast<char>('a' + i));
    const std::string key = "k" + std::to_string(i);
    auto r = store_->Append(StreamName("s"), {{storage::AppendRecord{key, "", data}}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string it = Iterator("s", "shardId-000000000000", "TRIM_HORIZON");
  std::vector<size_t> sizes;  // records per response
  std::string seen;           // the fill character of each record read, in order
  for (int call = 0; call < 5 && seen.size() < kRecords; ++call) {
    const ApiResponse got = GetRecords(it);
    ASSERT_EQ(got.status, 200u) << got.body.substr(0, 300);
    auto g = Json(got);
    size_t bytes = 0;
    for (const auto& rec : g["Records"].GetArray()) {
      auto data = Base64Decode(rec["Data"].GetString());
      ASSERT_TRUE(data.has_value());
      ASSERT_EQ(data->size(), kRecordBytes);
      bytes += data->size() + std::string_view(rec["PartitionKey"].GetString()).size();
      seen += (*data)[0];
    }
    EXPECT_LE(bytes, size_t{10} << 20) << "a GetRecords response carries at most 10 MiB";
    sizes.push_back(g["Records"].Size());
    ASSERT_TRUE(g["NextShardIterator"].IsString());
    it = g["NextShardIterator"].GetString();
  }
  // The first response is as full as 10 MiB allows; the next continues with record 11.
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 2}));
  EXPECT_EQ(seen, "abcdefghijkl") << "no record skipped or repeated across the cap";
}

TEST_F(RecordsTest, IteratorPositionsLatestAtAndAfterSequenceNumber) {
  CreateStream("s", 1);
  const std::string seq1 = Json(PutOne("s", "1", "k"))["SequenceNumber"].GetString();
  const std::string latest = Iterator("s", "shardId-000000000000", "LATEST");
  ASSERT_EQ(PutOne("s", "2", "k").status, 200u);
  auto l = Json(GetRecords(latest));
  ASSERT_EQ(l["Records"].Size(), 1u);
  EXPECT_EQ(l["Records"][0]["Data"].GetString(), B64("2"));

  auto at = Json(GetRecords(Iterator("s", "shardId-000000000000", "AT_SEQUENCE_NUMBER",
                                     R"(,"StartingSequenceNumber":")" + seq1 + "\"")));
  EXPECT_EQ(at["Records"].Size(), 2u);
  auto after = Json(GetRecords(Iterator("s", "shardId-000000000000", "AFTER_SEQUENCE_NUMBER",
                                        R"(,"StartingSequenceNumber":")" + seq1 + "\"")));
  EXPECT_EQ(after["Records"].Size(), 1u);
  auto ts = Json(GetRecords(Iterator("s", "shardId-000000000000", "AT_TIMESTAMP",
                                     R"(,"Timestamp":)" + std::to_string(kStartMs / 1000))));
  EXPECT_EQ(ts["Records"].Size(), 2u);
}

TEST_F(RecordsTest, GetShardIteratorArgumentErrors) {
  CreateStream("s", 1);
  const std::string base = R"({"StreamName":"s","ShardId":"shardId-000000000000",)";
  ExpectError(Call(&HandleGetShardIterator, base + R"("ShardIteratorType":"AT_SEQUENCE_NUMBER"})"),
              "InvalidArgumentException", 400, "Must specify StartingSequenceNumber");
  ExpectError(Call(&HandleGetShardIterator, base + R"("ShardIteratorType":"AT_TIMESTAMP"})"),
              "InvalidArgumentException", 400, "Must specify timestampInMillis");
  ExpectError(Call(&HandleGetShardIterator, base + R"("ShardIteratorType":"SOMEWHERE"})"),
              "ValidationException", 400,
              "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to "
              "satisfy constraint: Member must satisfy enum value set");
  ExpectError(
      Call(&HandleGetShardIterator,
           R"({"StreamName":"s","ShardId":"shardId-000000000009","ShardIteratorType":"LATEST"})"),
      "ResourceNotFoundException", 400,
      "Shard shardId-000000000009 in stream s under account 123456789012 does not exist");
  ExpectError(
      Call(&HandleGetShardIterator,
           R"({"StreamName":"t","ShardId":"shardId-000000000000","ShardIteratorType":"LATEST"})"),
      "ResourceNotFoundException", 400, "Stream t under account 123456789012 not found.");
  ExpectError(
      Call(&HandleGetShardIterator,
           base + R"("ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"12345"})"),
      "InvalidArgumentException", 400, "");
}

TEST_F(RecordsTest, TamperedOrGarbledIteratorIsInvalidArgument) {
  CreateStream("s", 1);
  std::string it = Iterator("s", "shardId-000000000000", "TRIM_HORIZON");
  it[it.size() / 2] = it[it.size() / 2] == 'A' ? 'B' : 'A';
  ExpectError(GetRecords(it), "InvalidArgumentException", 400, "Invalid ShardIterator.");
  ExpectError(GetRecords("garbage"), "InvalidArgumentException", 400, "Invalid ShardIterator.");
  // A well-formed token signed with another key (another store) is not ours either.
  IteratorPosition pos{"s", 1, "shardId-000000000000", 1, clock_.NowMs()};
  ExpectError(GetRecords(EncodeShardIterator(pos, std::string(32, 'x'))),
              "InvalidArgumentException", 400, "Invalid ShardIterator.");
  ExpectError(GetRecords(std::string(513, 'A')), "ValidationException", 400,
              "1 validation error detected");
}

TEST_F(RecordsTest, IteratorExpiresAfterTtlButNextIteratorIsFresh) {
  CreateStream("s", 1);
  const std::string it = Iterator("s", "shardId-000000000000", "TRIM_HORIZON");
  clock_.AdvanceMs(ctx_.iterator_ttl.count() - 1000);
  auto d = Json(GetRecords(it));
  const std::string next = d["NextShardIterator"].GetString();
  clock_.AdvanceMs(2000);  // `it` is now past the TTL, `next` is 1 s old
  ExpectError(GetRecords(it), "ExpiredIteratorException", 400,
              "Iterator expired. The iterator was created at time ");
  EXPECT_EQ(GetRecords(next).status, 200u);
}

TEST_F(RecordsTest, IteratorOfDeletedAndRecreatedStreamIsRefused) {
  CreateStream("s", 1);
  const std::string it = Iterator("s", "shardId-000000000000", "TRIM_HORIZON");
  ASSERT_EQ(Call(&HandleDeleteStream, R"({"StreamName":"s"})").status, 200u);
  ExpectError(GetRecords(it), "ResourceNotFoundException", 400, "Stream s under account");
  CreateStream("s", 1);
  ExpectError(GetRecords(it), "ResourceNotFoundException", 400, "Stream s under account");
}

}  // namespace
}  // namespace tideline::server
