// SplitShard, MergeShards, UpdateShardCount at the API, and what they change in DescribeStream,
// ListShards (every ShardFilter type) and GetRecords (ChildShards at a closed shard's end).
#include <string>
#include <vector>

#include "handler_fixture.h"

namespace tideline::server {
namespace {

// 2^127: the middle of the hash-key space.
constexpr const char* kHalf = "170141183460469231731687303715884105728";

class ReshardTest : public HandlerTest {
 protected:
  ApiResponse Split(const std::string& shard, const std::string& key) {
    return Call(&HandleSplitShard, R"({"StreamName":"r","ShardToSplit":")" + shard +
                                       R"(","NewStartingHashKey":")" + key + "\"}");
  }
  ApiResponse Merge(const std::string& a, const std::string& b) {
    return Call(&HandleMergeShards, R"({"StreamName":"r","ShardToMerge":")" + a +
                                        R"(","AdjacentShardToMerge":")" + b + "\"}");
  }
  // Lets the stream's UPDATING window (StoreOptions::reshard_updating_delay) pass.
  void Settle() { clock_.AdvanceMs(60'000); }

  std::vector<std::string> ListShardIds(const std::string& filter) {
    auto r = Call(&HandleListShards, R"({"StreamName":"r","ShardFilter":)" + filter + "}");
    EXPECT_EQ(r.status, 200u) << r.body;
    auto d = Json(r);
    std::vector<std::string> ids;
    if (!d.IsObject() || !d.HasMember("Shards")) return ids;
    for (const auto& s : d["Shards"].GetArray())
      ids.emplace_back(s["ShardId"].GetString());
    return ids;
  }
};

TEST_F(ReshardTest, SplitShardShowsLineageAndUpdatingThenActive) {
  CreateStream("r", 1);
  ASSERT_EQ(Call(&HandlePutRecord, R"({"StreamName":"r","PartitionKey":"a","Data":"eA=="})").status,
            200u);
  const ApiResponse r = Split("shardId-000000000000", kHalf);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(Call(&HandleDescribeStream, R"({"StreamName":"r"})"));
  const auto& desc = d["StreamDescription"];
  EXPECT_STREQ(desc["StreamStatus"].GetString(), "UPDATING");
  const auto& shards = desc["Shards"];
  ASSERT_EQ(shards.Size(), 3u);
  EXPECT_TRUE(shards[0]["SequenceNumberRange"].HasMember("EndingSequenceNumber"));
  EXPECT_FALSE(shards[0].HasMember("ParentShardId"));
  EXPECT_STREQ(shards[1]["ParentShardId"].GetString(), "shardId-000000000000");
  EXPECT_FALSE(shards[1].HasMember("AdjacentParentShardId"));
  EXPECT_FALSE(shards[1]["SequenceNumberRange"].HasMember("EndingSequenceNumber"));
  EXPECT_STREQ(shards[2]["HashKeyRange"]["StartingHashKey"].GetString(), kHalf);
  ExpectError(Split("shardId-000000000001", "5000"), "ResourceInUseException", 400,
              "Stream r under account");
  Settle();
  auto s = Json(Call(&HandleDescribeStreamSummary, R"({"StreamName":"r"})"));
  EXPECT_STREQ(s["StreamDescriptionSummary"]["StreamStatus"].GetString(), "ACTIVE");
  EXPECT_EQ(s["StreamDescriptionSummary"]["OpenShardCount"].GetInt(), 2);
}

TEST_F(ReshardTest, BadReshardRequestsGetKinesisErrors) {
  CreateStream("r", 2);
  ExpectError(Call(&HandleSplitShard, R"({"StreamName":"r"})"), "ValidationException", 400,
              "2 validation errors detected");
  ExpectError(Split("shardId-000000000000", "-1"), "ValidationException", 400,
              "1 validation error detected");
  ExpectError(Split("shardId-000000000000", "999999999999999999999999999999999999999"),
              "InvalidArgumentException", 400, "NewStartingHashKey");
  ExpectError(Split("shardId-000000000000", kHalf), "InvalidArgumentException", 400,
              "NewStartingHashKey " + std::string(kHalf) +
                  " used in SplitShard() on shard shardId-000000000000 in stream r under account "
                  "123456789012 is not both greater than one plus the shard's StartingHashKey 0 "
                  "and less than the shard's EndingHashKey "
                  "170141183460469231731687303715884105727.");
  ExpectError(Split("shardId-000000000009", "5000"), "ResourceNotFoundException", 400,
              "Could not find shard shardId-000000000009");
  ExpectError(
      Call(&HandleSplitShard, R"({"StreamName":"none","ShardToSplit":"shardId-000000000000",)"
                              R"("NewStartingHashKey":"5000"})"),
      "ResourceNotFoundException", 400, "Stream none under account");
  ExpectError(Merge("shardId-000000000000", "shardId-000000000000"), "InvalidArgumentException",
              400,
              "Shards shardId-000000000000 and shardId-000000000000 in stream r under account "
              "123456789012 are not an adjacent pair of shards eligible for merging");
  ExpectError(Call(&HandleUpdateShardCount,
                   R"({"StreamName":"r","TargetShardCount":3,"ScalingType":"FAST"})"),
              "ValidationException", 400, "1 validation error detected");
  ExpectError(Call(&HandleUpdateShardCount,
                   R"({"StreamName":"r","TargetShardCount":5,"ScalingType":"UNIFORM_SCALING"})"),
              "LimitExceededException", 400,
              "UpdateShardCount cannot scale up over double your current open shard count. "
              "Current open shard count: 2, Target shard count: 5");
  ExpectError(
      Call(&HandleUpdateShardCount,
           R"({"StreamName":"r","TargetShardCount":10001,"ScalingType":"UNIFORM_SCALING"})"),
      "LimitExceededException", 400,
      "Target shard count or number of open shards cannot be greater than 10000. Current "
      "open shard count: 2, Target shard count: 10001");
  ExpectError(Call(&HandleUpdateShardCount,
                   R"({"StreamName":"r","TargetShardCount":0,"ScalingType":"UNIFORM_SCALING"})"),
              "ValidationException", 400, "1 validation error detected");
}

TEST_F(ReshardTest, UpdateShardCountAnswersWithBothCountsAndMergeNamesBothParents) {
  CreateStream("r", 2);
  auto r = Call(&HandleUpdateShardCount,
                R"({"StreamName":"r","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(r);
  EXPECT_STREQ(d["StreamName"].GetString(), "r");
  EXPECT_EQ(d["CurrentShardCount"].GetInt(), 2);
  EXPECT_EQ(d["TargetShardCount"].GetInt(), 4);
  EXPECT_NE(std::string(d["StreamARN"].GetString()).find(":stream/r"), std::string::npos);
  Settle();
  const auto open = ListShardIds(R"({"Type":"AT_LATEST"})");
  ASSERT_EQ(open.size(), 4u);
  ASSERT_EQ(Merge(open[0], open[1]).status, 200u);
  auto after = Json(Call(&HandleListShards, R"({"StreamName":"r"})"));
  const auto& shards = after["Shards"];
  const auto& child = shards[shards.Size() - 1];
  EXPECT_EQ(std::string(child["ParentShardId"].GetString()), open[0]);
  EXPECT_EQ(std::string(child["AdjacentParentShardId"].GetString()), open[1]);
}

TEST_F(ReshardTest, GetRecordsAtAClosedShardsEndReturnsChildShardsAndNoIterator) {
  CreateStream("r", 1);
  ASSERT_EQ(Call(&HandlePutRecord, R"({"StreamName":"r","PartitionKey":"a","Data":"eA=="})").status,
            200u);
  auto it =
      Json(Call(&HandleGetShardIterator, R"({"StreamName":"r","ShardId":"shardId-000000000000",)"
                                         R"("ShardIteratorType":"TRIM_HORIZON"})"));
  const std::string iterator = it["ShardIterator"].GetString();
  ASSERT_EQ(Split("shardId-000000000000", kHalf).status, 200u);
  auto first = Json(Call(&HandleGetRecords, R"({"ShardIterator":")" + iterator + "\"}"));
  ASSERT_EQ(first["Records"].Size(), 1u);
  // The one record was the last: the shard ended with this read.
  EXPECT_FALSE(first.HasMember("NextShardIterator"));
  ASSERT_TRUE(first.HasMember("ChildShards"));
  const auto& children = first["ChildShards"];
  ASSERT_EQ(children.Size(), 2u);
  EXPECT_STREQ(children[0]["ShardId"].GetString(), "shardId-000000000001");
  EXPECT_STREQ(children[0]["ParentShards"][0].GetString(), "shardId-000000000000");
  EXPECT_STREQ(children[1]["HashKeyRange"]["StartingHashKey"].GetString(), kHalf);
  // An open shard's read keeps its iterator and names no children.
  auto child_it =
      Json(Call(&HandleGetShardIterator, R"({"StreamName":"r","ShardId":"shardId-000000000001",)"
                                         R"("ShardIteratorType":"TRIM_HORIZON"})"));
  auto open_read =
      Json(Call(&HandleGetRecords, R"({"ShardIterator":")" +
                                       std::string(child_it["ShardIterator"].GetString()) + "\"}"));
  EXPECT_TRUE(open_read.HasMember("NextShardIterator"));
  EXPECT_FALSE(open_read.HasMember("ChildShards"));
}

TEST_F(ReshardTest, ListShardsAppliesEveryShardFilterType) {
  CreateStream("r", 1);  // shard 0 made at kStartMs
  clock_.AdvanceMs(10'000);
  ASSERT_EQ(Split("shardId-000000000000", kHalf).status, 200u);   // 1, 2 at +10 s
  Settle();                                                       // +70 s
  ASSERT_EQ(Split("shardId-000000000001", "5000").status, 200u);  // 3, 4 at +70 s
  Settle();                                                       // +130 s
  const double t0 = static_cast<double>(kStartMs) / 1000;
  using V = std::vector<std::string>;
  const std::string s0 = "shardId-000000000000", s1 = "shardId-000000000001",
                    s2 = "shardId-000000000002", s3 = "shardId-000000000003",
                    s4 = "shardId-000000000004";
  EXPECT_EQ(ListShardIds(R"({"Type":"FROM_TRIM_HORIZON"})"), (V{s0, s1, s2, s3, s4}));
  EXPECT_EQ(ListShardIds(R"({"Type":"AT_LATEST"})"), (V{s2, s3, s4}));
  EXPECT_EQ(ListShardIds(R"({"Type":"AFTER_SHARD_ID","ShardId":")" + s2 + "\"}"), (V{s3, s4}));
  // The stream is younger than its retention: the trim horizon is its creation.
  EXPECT_EQ(ListShardIds(R"({"Type":"AT_TRIM_HORIZON"})"), (V{s0}));
  EXPECT_EQ(ListShardIds(R"({"Type":"AT_TIMESTAMP","Timestamp":)" + std::to_string(t0 + 30) + "}"),
            (V{s1, s2}));
  EXPECT_EQ(ListShardIds(R"({"Type":"AT_TIMESTAMP","Timestamp":)" + std::to_string(t0 + 5) + "}"),
            (V{s0}));
  EXPECT_EQ(
      ListShardIds(R"({"Type":"FROM_TIMESTAMP","Timestamp":)" + std::to_string(t0 + 30) + "}"),
      (V{s1, s2, s3, s4}));
  // Paging keeps the filter.
  auto page = Json(Call(&HandleListShards,
                        R"({"StreamName":"r","MaxResults":1,"ShardFilter":{"Type":"AT_LATEST"}})"));
  ASSERT_TRUE(page.HasMember("NextToken"));
  auto next = Json(Call(&HandleListShards,
                        R"({"NextToken":")" + std::string(page["NextToken"].GetString()) + "\"}"));
  ASSERT_EQ(next["Shards"].Size(), 2u);
  EXPECT_EQ(std::string(next["Shards"][0]["ShardId"].GetString()), s3);
  ExpectError(
      Call(&HandleListShards, R"({"StreamName":"r","ShardFilter":{"Type":"AFTER_SHARD_ID"}})"),
      "InvalidArgumentException", 400, "ShardFilter of type AFTER_SHARD_ID");
  ExpectError(
      Call(&HandleListShards, R"({"StreamName":"r","ShardFilter":{"Type":"AT_TIMESTAMP"}})"),
      "InvalidArgumentException", 400, "ShardFilter of type AT_TIMESTAMP");
  ExpectError(Call(&HandleListShards, R"({"StreamName":"r","ShardFilter":{"Type":"SOME"}})"),
              "ValidationException", 400, "1 validation error detected");
}

TEST_F(ReshardTest, PutRecordsRouteToTheChildren) {
  CreateStream("r", 1);
  ASSERT_EQ(Split("shardId-000000000000", kHalf).status, 200u);
  auto low = Json(Call(&HandlePutRecord, R"({"StreamName":"r","PartitionKey":"a","Data":"eA==",)"
                                         R"("ExplicitHashKey":"7"})"));
  EXPECT_STREQ(low["ShardId"].GetString(), "shardId-000000000001");
  auto high = Json(
      Call(&HandlePutRecords, R"({"StreamName":"r","Records":[{"PartitionKey":"a","Data":"eA==",)"
                              R"("ExplicitHashKey":")" +
                                  std::string(kHalf) + "\"}]}"));
  EXPECT_STREQ(high["Records"][0]["ShardId"].GetString(), "shardId-000000000002");
}

}  // namespace
}  // namespace tideline::server
