// PutRecord, PutRecords, GetRecords and GetShardIterator under server.throughput_limits, on the
// store's manual clock: what a producer or consumer over a shard's limits is answered.
#include <memory>
#include <string>
#include <vector>

#include "common/base64.h"
#include "handler_fixture.h"
#include "storage/hash_key.h"
#include "throughput_limiter.h"

namespace tideline::server {
namespace {

constexpr char kShard0Throttled[] =
    "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012.";

std::string B64(std::string_view s) {
  std::string out;
  Base64Append(s, out);
  return out;
}

class ThrottleTest : public HandlerTest {
 protected:
  ThrottleTest() { limits_.enabled = true; }

  // Starts limiting with limits_ as the test set them.
  void EnableLimits() {
    limiter_ = std::make_unique<ThroughputLimiter>(limits_, clock_);
    ctx_.limiter = limiter_.get();
  }

  ApiResponse PutOne(const std::string& data, const std::string& key = "pk") {
    return Call(&HandlePutRecord, R"({"StreamName":"s","Data":")" + B64(data) +
                                      R"(","PartitionKey":")" + key + "\"}");
  }

  // A PutRecords of `n` records "<prefix><i>", to shard `hash_key`'s shard when given.
  ApiResponse PutMany(int n, const std::string& prefix, const std::string& hash_key = "") {
    std::string body = R"({"StreamName":"s","Records":[)";
    for (int i = 0; i < n; ++i) {
      if (i > 0) body.append(",");
      body.append(R"({"Data":")").append(B64(prefix + std::to_string(i)));
      body.append(R"(","PartitionKey":"pk)").append(std::to_string(i)).append("\"");
      if (!hash_key.empty()) body.append(R"(,"ExplicitHashKey":")").append(hash_key).append("\"");
      body.append("}");
    }
    return Call(&HandlePutRecords, body + "]}");
  }

  ApiResponse IteratorCall(const std::string& shard = "shardId-000000000000") {
    return Call(&HandleGetShardIterator, R"({"StreamName":"s","ShardId":")" + shard +
                                             R"(","ShardIteratorType":"TRIM_HORIZON"})");
  }

  std::string Iterator(const std::string& shard = "shardId-000000000000") {
    const ApiResponse r = IteratorCall(shard);
    EXPECT_EQ(r.status, 200u) << r.body;
    auto d = Json(r);
    return d.HasMember("ShardIterator") ? d["ShardIterator"].GetString() : "";
  }

  ApiResponse GetRecords(const std::string& iterator) {
    return Call(&HandleGetRecords, R"({"ShardIterator":")" + iterator + "\"}");
  }

  // Every record's data in the shard, read with limits off.
  std::vector<std::string> ReadAll(const std::string& shard = "shardId-000000000000") {
    ThroughputLimiter* saved = ctx_.limiter;
    ctx_.limiter = nullptr;
    std::vector<std::string> out;
    std::string it = Iterator(shard);
    for (int round = 0; round < 100 && !it.empty(); ++round) {
      const ApiResponse r = GetRecords(it);
      EXPECT_EQ(r.status, 200u) << r.body;
      auto d = Json(r);
      if (d["Records"].Size() == 0) break;
      for (const auto& rec : d["Records"].GetArray()) {
        out.push_back(Base64Decode(rec["Data"].GetString()).value_or("<bad base64>"));
      }
      it = d.HasMember("NextShardIterator") ? d["NextShardIterator"].GetString() : "";
    }
    ctx_.limiter = saved;
    return out;
  }

  ThroughputLimits limits_;
  std::unique_ptr<ThroughputLimiter> limiter_;
};

TEST_F(ThrottleTest, PutRecordOverTheRecordRateIsRefusedWithAwsMessage) {
  limits_.write_records_per_sec = 5;
  EnableLimits();
  CreateStream("s", 1);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(PutOne("r" + std::to_string(i)).status, 200u) << i;
  const ApiResponse refused = PutOne("r5");
  ExpectError(refused, "ProvisionedThroughputExceededException", 400, kShard0Throttled);
  EXPECT_EQ(Json(refused)["message"].GetString(), std::string(kShard0Throttled));
  // A fifth of a second later one more record's worth has come back.
  clock_.AdvanceMs(200);
  EXPECT_EQ(PutOne("r6").status, 200u);
  EXPECT_EQ(PutOne("r7").status, 400u);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4", "r6"}));
}

TEST_F(ThrottleTest, PutRecordOverTheByteRateIsRefused) {
  limits_.write_bytes_per_sec = 1024;
  EnableLimits();
  CreateStream("s", 1);
  // Data and partition key both count: 1,022 + 2 bytes is the whole second's worth.
  ASSERT_EQ(PutOne(std::string(1022, 'x'), "pk").status, 200u);
  ExpectError(PutOne("y", "k"), "ProvisionedThroughputExceededException", 400, kShard0Throttled);
  clock_.AdvanceMs(2);  // 2 bytes' worth
  EXPECT_EQ(PutOne("y", "k").status, 200u);
}

TEST_F(ThrottleTest, PutRecordsFailsOnlyTheRecordsOverTheLimitAndWritesTheRest) {
  limits_.write_records_per_sec = 10;
  EnableLimits();
  CreateStream("s", 1);
  const ApiResponse r = PutMany(15, "a");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(r);
  EXPECT_EQ(d["FailedRecordCount"].GetInt(), 5);
  ASSERT_EQ(d["Records"].Size(), 15u);
  for (int i = 0; i < 15; ++i) {
    const auto& e = d["Records"][i];
    if (i < 10) {
      EXPECT_TRUE(e.HasMember("SequenceNumber")) << i;
      EXPECT_STREQ(e["ShardId"].GetString(), "shardId-000000000000");
      EXPECT_FALSE(e.HasMember("ErrorCode"));
    } else {
      EXPECT_STREQ(e["ErrorCode"].GetString(), "ProvisionedThroughputExceededException");
      EXPECT_STREQ(e["ErrorMessage"].GetString(), kShard0Throttled);
      EXPECT_FALSE(e.HasMember("SequenceNumber"));
    }
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i)
    expected.push_back("a" + std::to_string(i));
  EXPECT_EQ(ReadAll(), expected);
}

TEST_F(ThrottleTest, PutRecordsAllRefusedWritesNothing) {
  limits_.write_records_per_sec = 3;
  EnableLimits();
  CreateStream("s", 1);
  ASSERT_EQ(Json(PutMany(3, "a"))["FailedRecordCount"].GetInt(), 0);
  const ApiResponse r = PutMany(4, "b");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Json(r)["FailedRecordCount"].GetInt(), 4);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"a0", "a1", "a2"}));
}

TEST_F(ThrottleTest, EachShardHasItsOwnLimit) {
  limits_.write_records_per_sec = 10;
  EnableLimits();
  CreateStream("s", 2);
  const std::string shard1_key = HashKeyToDecimal(EvenHashKeyRanges(2)[1].start);
  ASSERT_EQ(Json(PutMany(10, "a", "0"))["FailedRecordCount"].GetInt(), 0);
  EXPECT_EQ(Json(PutMany(1, "a", "0"))["FailedRecordCount"].GetInt(), 1);
  const ApiResponse other = PutMany(10, "b", shard1_key);
  EXPECT_EQ(Json(other)["FailedRecordCount"].GetInt(), 0) << other.body;
}

TEST_F(ThrottleTest, ShardsMadeByASplitHaveTheirOwnBuckets) {
  limits_.write_records_per_sec = 10;
  EnableLimits();
  CreateStream("s", 1);
  ASSERT_EQ(Json(PutMany(10, "a", "0"))["FailedRecordCount"].GetInt(), 0);
  ASSERT_EQ(Json(PutMany(1, "a", "0"))["FailedRecordCount"].GetInt(), 1);
  const ApiResponse split =
      Call(&HandleSplitShard, R"({"StreamName":"s","ShardToSplit":"shardId-000000000000",)"
                              R"("NewStartingHashKey":"18446744073709551616"})");
  ASSERT_EQ(split.status, 200u) << split.body;
  const ApiResponse child = PutMany(10, "c", "0");
  auto d = Json(child);
  EXPECT_EQ(d["FailedRecordCount"].GetInt(), 0) << child.body;
  EXPECT_STREQ(d["Records"][0]["ShardId"].GetString(), "shardId-000000000001");
}

TEST_F(ThrottleTest, AReshardTheLimiterWasNotToldOfIsNoticedByTheNextAppend) {
  limits_.write_records_per_sec = 10;
  EnableLimits();
  CreateStream("s", 1);
  ASSERT_EQ(Json(PutMany(10, "a", "0"))["FailedRecordCount"].GetInt(), 0);
  // Straight to the store: no handler tells the limiter.
  ASSERT_TRUE(
      ctx_.store->SplitShard(StreamName("s"), ShardId("shardId-000000000000"), HashKey{1} << 64)
          .ok());
  // A second later: charged to the closed parent (the limiter's old table), written to the
  // child by the store, which shows the limiter its table is old.
  clock_.AdvanceMs(1000);
  auto first = Json(PutMany(1, "b", "0"));
  ASSERT_EQ(first["FailedRecordCount"].GetInt(), 0);
  ASSERT_STREQ(first["Records"][0]["ShardId"].GetString(), "shardId-000000000001");
  // The child's own 10 records a second (charged to the parent's 9 left, one would fail).
  const ApiResponse after = PutMany(10, "c", "0");
  EXPECT_EQ(Json(after)["FailedRecordCount"].GetInt(), 0) << after.body;
}

TEST_F(ThrottleTest, GetRecordsSixthCallInASecondIsRefused) {
  EnableLimits();
  CreateStream("s", 1);
  ASSERT_EQ(PutOne("x").status, 200u);
  const std::string it = Iterator();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(GetRecords(it).status, 200u) << i;
  const ApiResponse refused = GetRecords(it);
  ExpectError(refused, "ProvisionedThroughputExceededException", 400,
              "Rate exceeded for Shard - 123456789012/s/shardId-000000000000");
  clock_.AdvanceMs(200);
  EXPECT_EQ(GetRecords(it).status, 200u);
}

TEST_F(ThrottleTest, GetRecordsOverTheByteRateIsAnsweredThenTheNextCallsWait) {
  limits_.read_bytes_per_sec = 4096;
  EnableLimits();
  CreateStream("s", 1);
  // 5 records of 4,094 + 2 bytes: 20,480 bytes, five seconds' worth of reads.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(PutOne(std::string(4094, static_cast<char>('a' + i)), "pk").status, 200u);
    clock_.AdvanceMs(1000);  // the write rate (1 MiB/s) is not what this test is about
  }
  const std::string it = Iterator();
  const ApiResponse big = GetRecords(it);
  ASSERT_EQ(big.status, 200u) << big.body;
  EXPECT_EQ(Json(big)["Records"].Size(), 5u);  // answered in full
  // One second of burst paid for part, the rest takes 4 s.
  ExpectError(GetRecords(it), "ProvisionedThroughputExceededException", 400,
              "Rate exceeded for Shard - 123456789012/s/shardId-000000000000");
  clock_.AdvanceMs(3999);
  EXPECT_EQ(GetRecords(it).status, 400u);
  clock_.AdvanceMs(2);
  EXPECT_EQ(GetRecords(it).status, 200u);
}

TEST_F(ThrottleTest, GetShardIteratorSixthCallInASecondIsRefused) {
  EnableLimits();
  CreateStream("s", 2);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(IteratorCall().status, 200u) << i;
  ExpectError(IteratorCall(), "ProvisionedThroughputExceededException", 400, kShard0Throttled);
  EXPECT_EQ(IteratorCall("shardId-000000000001").status, 200u);  // another shard's limit
  clock_.AdvanceMs(200);
  EXPECT_EQ(IteratorCall().status, 200u);
}

TEST_F(ThrottleTest, AStreamDeletedAndCreatedAgainStartsWithFullBuckets) {
  limits_.write_records_per_sec = 2;
  EnableLimits();
  CreateStream("s", 1);
  ASSERT_EQ(Json(PutMany(3, "a"))["FailedRecordCount"].GetInt(), 1);
  ASSERT_EQ(Call(&HandleDeleteStream, R"({"StreamName":"s"})").status, 200u);
  CreateStream("s", 1);
  EXPECT_EQ(Json(PutMany(2, "b"))["FailedRecordCount"].GetInt(), 0);
}

TEST_F(ThrottleTest, WithLimitsOffNothingIsThrottled) {
  CreateStream("s", 1);  // ctx_.limiter stays null: the default
  for (int round = 0; round < 4; ++round) {
    const ApiResponse r = PutMany(500, "r");
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(Json(r)["FailedRecordCount"].GetInt(), 0);
  }
  const std::string it = Iterator();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(GetRecords(it).status, 200u) << i;
}

}  // namespace
}  // namespace tideline::server
