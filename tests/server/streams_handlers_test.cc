// Stream and shard operations against a real Store.
#include <string>

#include "handler_fixture.h"
#include "storage/hash_key.h"

namespace tideline::server {
namespace {

class StreamsTest : public HandlerTest {};

TEST_F(StreamsTest, DescribeStreamReportsArnShardsAndConstants) {
  CreateStream("orders", 2);
  const ApiResponse r = Call(&HandleDescribeStream, R"({"StreamName":"orders"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(r);
  const auto& s = d["StreamDescription"];
  EXPECT_STREQ(s["StreamName"].GetString(), "orders");
  EXPECT_STREQ(s["StreamARN"].GetString(), "arn:aws:kinesis:us-east-1:123456789012:stream/orders");
  EXPECT_STREQ(s["StreamStatus"].GetString(), "ACTIVE");
  EXPECT_EQ(s["RetentionPeriodHours"].GetInt(), 24);
  ASSERT_TRUE(s["StreamCreationTimestamp"].IsNumber());
  EXPECT_NEAR(s["StreamCreationTimestamp"].GetDouble(), kStartMs / 1000.0, 0.001);
  EXPECT_STREQ(s["EncryptionType"].GetString(), "NONE");
  EXPECT_STREQ(s["StreamModeDetails"]["StreamMode"].GetString(), "PROVISIONED");
  EXPECT_TRUE(s["EnhancedMonitoring"].IsArray());
  EXPECT_FALSE(s["HasMoreShards"].GetBool());
  const auto& shards = s["Shards"];
  ASSERT_EQ(shards.Size(), 2u);
  auto info = store_->DescribeStream(StreamName("orders"));
  ASSERT_TRUE(info.ok());
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    EXPECT_EQ(shards[i]["ShardId"].GetString(), info->shards[i].id.get());
    EXPECT_EQ(shards[i]["HashKeyRange"]["StartingHashKey"].GetString(),
              HashKeyToDecimal(info->shards[i].hash_range.start));
    EXPECT_EQ(shards[i]["HashKeyRange"]["EndingHashKey"].GetString(),
              HashKeyToDecimal(info->shards[i].hash_range.end));
    EXPECT_EQ(shards[i]["SequenceNumberRange"]["StartingSequenceNumber"].GetString(),
              info->shards[i].starting_sequence_number.get());
  }
  EXPECT_STREQ(shards[0]["HashKeyRange"]["StartingHashKey"].GetString(), "0");
  EXPECT_STREQ(shards[1]["HashKeyRange"]["EndingHashKey"].GetString(),
               "340282366920938463463374607431768211455");
}

TEST_F(StreamsTest, DescribeStreamPagesShardsWithLimitAndExclusiveStart) {
  CreateStream("paged", 3);
  auto d = Json(Call(&HandleDescribeStream, R"({"StreamName":"paged","Limit":2})"));
  const auto& s = d["StreamDescription"];
  ASSERT_EQ(s["Shards"].Size(), 2u);
  EXPECT_TRUE(s["HasMoreShards"].GetBool());
  const std::string last = s["Shards"][1]["ShardId"].GetString();
  auto d2 = Json(Call(&HandleDescribeStream,
                      R"({"StreamName":"paged","ExclusiveStartShardId":")" + last + "\"}"));
  ASSERT_EQ(d2["StreamDescription"]["Shards"].Size(), 1u);
  EXPECT_FALSE(d2["StreamDescription"]["HasMoreShards"].GetBool());
}

TEST_F(StreamsTest, StreamArnIsAcceptedInsteadOfStreamName) {
  CreateStream("by-arn", 1);
  const ApiResponse r =
      Call(&HandleDescribeStreamSummary,
           R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/by-arn"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(r);
  EXPECT_STREQ(d["StreamDescriptionSummary"]["StreamName"].GetString(), "by-arn");
  EXPECT_EQ(d["StreamDescriptionSummary"]["OpenShardCount"].GetInt(), 1);
  ExpectError(Call(&HandleDescribeStreamSummary, R"({"StreamARN":"not-an-arn"})"),
              "ValidationException", 400,
              "1 validation error detected: Value 'not-an-arn' at 'streamARN'");
}

TEST_F(StreamsTest, CreateExistingStreamIsResourceInUse) {
  CreateStream("dup", 1);
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"dup","ShardCount":1})"),
              "ResourceInUseException", 400, "Stream dup under account 123456789012");
}

TEST_F(StreamsTest, ShardCountBelowOneIsValidationBeforeTheStore) {
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"s","ShardCount":0})"),
              "ValidationException", 400,
              "1 validation error detected: Value '0' at 'shardCount' failed to satisfy "
              "constraint: Member must have value greater than or equal to 1");
  // The model sets no maximum: the store's own range answers.
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"s","ShardCount":100001})"),
              "InvalidArgumentException", 400, "shard count must be in 1..100000");
  EXPECT_TRUE(store_->ListStreams("", 10).empty());
}

TEST_F(StreamsTest, SeveralViolationsAreReportedTogether) {
  // Members in name order, as AWS lists them.
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"bad name!","ShardCount":-3})"),
              "ValidationException", 400,
              "2 validation errors detected: Value '-3' at 'shardCount' failed to satisfy "
              "constraint: Member must have value greater than or equal to 1; Value 'bad name!' "
              "at 'streamName' failed to satisfy constraint: Member must satisfy regular "
              "expression pattern: [a-zA-Z0-9_.-]+");
  ExpectError(Call(&HandleCreateStream, R"({"ShardCount":1})"), "ValidationException", 400,
              "1 validation error detected: Value null at 'streamName' failed to satisfy "
              "constraint: Member must not be null");
}

TEST_F(StreamsTest, StoreShardLimitIsLimitExceeded) {
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"big","ShardCount":21})"),
              "LimitExceededException", 400, "");
}

TEST_F(StreamsTest, MalformedJsonAndWrongTypesAreSerializationErrors) {
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"x",)"), "SerializationException", 400,
              "");
  ExpectError(Call(&HandleCreateStream, R"([1,2])"), "SerializationException", 400, "");
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"x","ShardCount":"two"})"),
              "SerializationException", 400,
              "class java.lang.String can not be converted to an Integer");
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":7,"ShardCount":1})"),
              "SerializationException", 400,
              "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
              "to an String");
  EXPECT_TRUE(store_->ListStreams("", 10).empty());
}

TEST_F(StreamsTest, FractionalShardCountIsTruncatedAsOnKinesis) {
  ASSERT_EQ(Call(&HandleCreateStream, R"({"StreamName":"x","ShardCount":2.9})").status, 200u);
  auto info = store_->DescribeStream(StreamName("x"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->shards.size(), 2u);
}

TEST_F(StreamsTest, HostileBodiesAreSerializationErrorsNotCrashes) {
  // A million levels of nesting: the parser is iterative and stops at the API's depth limit.
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  ExpectError(Call(&HandleCreateStream, deep), "SerializationException", 400,
              "JSON nested deeper than 16 levels");
  ExpectError(Call(&HandleListStreams, std::string(130'000, '[')), "SerializationException", 400,
              "JSON nested deeper");
  // Every request is a JSON object: an empty body is refused as AWS refuses it.
  ExpectError(Call(&HandleListStreams, ""), "SerializationException", 400, "Empty request body");
  ExpectError(Call(&HandleListStreams, " \r\n"), "SerializationException", 400, "");
  // Invalid UTF-8, raw or escaped, never reaches the store.
  ExpectError(Call(&HandleCreateStream, "{\"StreamName\":\"a\xFF\",\"ShardCount\":1}"),
              "SerializationException", 400, "");
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"a\uDC00","ShardCount":1})"),
              "SerializationException", 400, "");
  ExpectError(
      Call(&HandleCreateStream, std::string("{\"StreamName\":\"a\",\"ShardCount\":1}\0x", 35)),
      "SerializationException", 400, "");
}

TEST_F(StreamsTest, DeletedStreamIsResourceNotFound) {
  CreateStream("gone", 1);
  ASSERT_EQ(Call(&HandleDeleteStream, R"({"StreamName":"gone"})").status, 200u);
  ExpectError(Call(&HandleDescribeStream, R"({"StreamName":"gone"})"), "ResourceNotFoundException",
              400, "Stream gone under account 123456789012 not found.");
  ExpectError(Call(&HandleDeleteStream, R"({"StreamName":"gone"})"), "ResourceNotFoundException",
              400, "Stream gone under account 123456789012 not found.");
}

TEST_F(StreamsTest, ListStreamsPagesWithLimitAndNextToken) {
  for (const char* n : {"c", "a", "b"})
    CreateStream(n, 1);
  auto d = Json(Call(&HandleListStreams, R"({"Limit":2})"));
  ASSERT_EQ(d["StreamNames"].Size(), 2u);
  EXPECT_STREQ(d["StreamNames"][0].GetString(), "a");
  EXPECT_STREQ(d["StreamNames"][1].GetString(), "b");
  EXPECT_TRUE(d["HasMoreStreams"].GetBool());
  ASSERT_EQ(d["StreamSummaries"].Size(), 2u);
  EXPECT_STREQ(d["StreamSummaries"][0]["StreamARN"].GetString(),
               "arn:aws:kinesis:us-east-1:123456789012:stream/a");
  const std::string token = d["NextToken"].GetString();
  auto d2 = Json(Call(&HandleListStreams, R"({"NextToken":")" + token + "\"}"));
  ASSERT_EQ(d2["StreamNames"].Size(), 1u);
  EXPECT_STREQ(d2["StreamNames"][0].GetString(), "c");
  EXPECT_FALSE(d2["HasMoreStreams"].GetBool());
  EXPECT_FALSE(d2.HasMember("NextToken"));

  auto d3 = Json(Call(&HandleListStreams, R"({"ExclusiveStartStreamName":"a"})"));
  EXPECT_EQ(d3["StreamNames"].Size(), 2u);
  ExpectError(Call(&HandleListStreams, R"({"NextToken":"garbage"})"), "InvalidArgumentException",
              400, "Invalid NextToken.");
  ExpectError(Call(&HandleListStreams, R"({"Limit":0})"), "ValidationException", 400,
              "1 validation error detected: Value '0' at 'limit'");
}

TEST_F(StreamsTest, ListShardsPagesWithMaxResultsAndNextToken) {
  CreateStream("shards", 3);
  auto d = Json(Call(&HandleListShards, R"({"StreamName":"shards","MaxResults":2})"));
  ASSERT_EQ(d["Shards"].Size(), 2u);
  ASSERT_TRUE(d.HasMember("NextToken"));
  const std::string token = d["NextToken"].GetString();
  auto d2 = Json(Call(&HandleListShards, R"({"NextToken":")" + token + "\"}"));
  ASSERT_EQ(d2["Shards"].Size(), 1u);
  EXPECT_STREQ(d2["Shards"][0]["ShardId"].GetString(), "shardId-000000000002");
  EXPECT_FALSE(d2.HasMember("NextToken"));

  ExpectError(Call(&HandleListShards, R"({"StreamName":"shards","NextToken":")" + token + "\"}"),
              "InvalidArgumentException", 400, "NextToken and StreamName cannot be provided");
  ExpectError(Call(&HandleListShards, R"({})"), "InvalidArgumentException", 400, "");
  ExpectError(Call(&HandleListShards, R"({"StreamName":"nope"})"), "ResourceNotFoundException", 400,
              "Stream nope under account 123456789012 not found.");
}

TEST_F(StreamsTest, RetentionFollowsKinesisIncreaseAndDecreaseRules) {
  CreateStream("ret", 1);
  ASSERT_EQ(Call(&HandleIncreaseStreamRetentionPeriod,
                 R"({"StreamName":"ret","RetentionPeriodHours":48})")
                .status,
            200u);
  EXPECT_EQ(store_->DescribeStream(StreamName("ret"))->retention_hours, 48);
  ExpectError(Call(&HandleIncreaseStreamRetentionPeriod,
                   R"({"StreamName":"ret","RetentionPeriodHours":24})"),
              "InvalidArgumentException", 400,
              "Requested retention period (24 hours) for stream ret can not be shorter than "
              "existing retention period (48 hours).");
  ExpectError(Call(&HandleDecreaseStreamRetentionPeriod,
                   R"({"StreamName":"ret","RetentionPeriodHours":72})"),
              "InvalidArgumentException", 400,
              "Requested retention period (72 hours) for stream ret can not be longer than "
              "existing retention period (48 hours).");
  ExpectError(Call(&HandleIncreaseStreamRetentionPeriod,
                   R"({"StreamName":"ret","RetentionPeriodHours":8761})"),
              "InvalidArgumentException", 400, "Maximum allowed retention period is 8760 hours.");
  ExpectError(Call(&HandleDecreaseStreamRetentionPeriod,
                   R"({"StreamName":"ret","RetentionPeriodHours":23})"),
              "InvalidArgumentException", 400, "Minimum allowed retention period is 24 hours.");
  ASSERT_EQ(Call(&HandleDecreaseStreamRetentionPeriod,
                 R"({"StreamName":"ret","RetentionPeriodHours":24})")
                .status,
            200u);
  EXPECT_EQ(store_->DescribeStream(StreamName("ret"))->retention_hours, 24);
  ExpectError(Call(&HandleIncreaseStreamRetentionPeriod, R"({"StreamName":"ret"})"),
              "ValidationException", 400,
              "1 validation error detected: Value null at 'retentionPeriodHours'");
  ExpectError(Call(&HandleIncreaseStreamRetentionPeriod,
                   R"({"StreamName":"none","RetentionPeriodHours":48})"),
              "ResourceNotFoundException", 400, "Stream none under account");
}

}  // namespace
}  // namespace tideline::server
