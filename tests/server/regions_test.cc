// Regions: each region has its own streams (common/regional_stream.h), ARNs and StreamARN
// checks use the request's region, and the router takes the region from the SigV4 credential
// scope, checked (auth.mode sigv4) or merely read (none).
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/beast/http/fields.hpp>

#include "auth/authenticator.h"
#include "handler_fixture.h"
#include "router_fixture.h"

namespace tideline::server {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kWest = "us-west-2";
constexpr std::string_view kArnEast = "arn:aws:kinesis:us-east-1:123456789012:stream/";
constexpr std::string_view kArnWest = "arn:aws:kinesis:us-west-2:123456789012:stream/";

class RegionsTest : public HandlerTest {
 protected:
  // Runs `fn` as a request of `region` ("" for the default region, us-east-1).
  template <typename Fn>
  ApiResponse In(std::string_view region, Fn fn, const std::string& body) {
    ctx_.region = std::string(region);
    ApiResponse r = Call(fn, body);
    ctx_.region.clear();
    return r;
  }
  void Create(std::string_view region, const std::string& name, int shards) {
    const ApiResponse r =
        In(region, &HandleCreateStream,
           R"({"StreamName":")" + name + R"(","ShardCount":)" + std::to_string(shards) + "}");
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  std::vector<std::string> List(std::string_view region, const std::string& body = "{}") {
    const ApiResponse r = In(region, &HandleListStreams, body);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::vector<std::string> names;
    const auto d = Json(r);
    for (const auto& n : d["StreamNames"].GetArray())
      names.emplace_back(n.GetString());
    return names;
  }
  std::string Iterator(std::string_view region, const std::string& stream) {
    const ApiResponse r = In(region, &HandleGetShardIterator,
                             R"({"StreamName":")" + stream +
                                 R"(","ShardId":"shardId-000000000000",)"
                                 R"("ShardIteratorType":"TRIM_HORIZON"})");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.status == 200u ? Json(r)["ShardIterator"].GetString() : "";
  }
  std::vector<std::string> ReadAll(std::string_view region, const std::string& stream) {
    const ApiResponse r =
        In(region, &HandleGetRecords, R"({"ShardIterator":")" + Iterator(region, stream) + "\"}");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::vector<std::string> data;
    const auto d = Json(r);
    for (const auto& rec : d["Records"].GetArray())
      data.emplace_back(rec["Data"].GetString());
    return data;
  }
};

TEST_F(RegionsTest, SameNameInTwoRegionsIsTwoStreamsEachWithItsRegionsArn) {
  Create("", "logs", 2);
  Create(kWest, "logs", 1);
  // A second CreateStream in either region finds its own region's stream.
  ExpectError(In(kWest, &HandleCreateStream, R"({"StreamName":"logs","ShardCount":1})"),
              "ResourceInUseException", 400,
              "Stream logs under account 123456789012 already exists.");

  auto east = Json(In("", &HandleDescribeStream, R"({"StreamName":"logs"})"));
  EXPECT_STREQ(east["StreamDescription"]["StreamName"].GetString(), "logs");
  EXPECT_EQ(east["StreamDescription"]["StreamARN"].GetString(), std::string(kArnEast) + "logs");
  EXPECT_EQ(east["StreamDescription"]["Shards"].Size(), 2u);
  auto west = Json(In(kWest, &HandleDescribeStreamSummary, R"({"StreamName":"logs"})"));
  const auto& summary = west["StreamDescriptionSummary"];
  EXPECT_STREQ(summary["StreamName"].GetString(), "logs");
  EXPECT_EQ(summary["StreamARN"].GetString(), std::string(kArnWest) + "logs");
  EXPECT_EQ(summary["OpenShardCount"].GetInt(), 1);

  // The default region keeps the store's plain names; the other region is qualified.
  EXPECT_TRUE(store_->DescribeStream(StreamName("logs")).ok());
  EXPECT_EQ(store_->DescribeStream(StreamName("us-west-2:logs"))->shards.size(), 1u);

  // Deleting one region's stream leaves the other's.
  ASSERT_EQ(In(kWest, &HandleDeleteStream, R"({"StreamName":"logs"})").status, 200u);
  ExpectError(In(kWest, &HandleDescribeStream, R"({"StreamName":"logs"})"),
              "ResourceNotFoundException", 400,
              "Stream logs under account 123456789012 not found.");
  EXPECT_EQ(In("", &HandleDescribeStream, R"({"StreamName":"logs"})").status, 200u);
}

TEST_F(RegionsTest, AStreamOfOneRegionIsInvisibleToAnother) {
  Create(kWest, "only-west", 1);
  ExpectError(In("", &HandleDescribeStream, R"({"StreamName":"only-west"})"),
              "ResourceNotFoundException", 400,
              "Stream only-west under account 123456789012 not found.");
  ExpectError(In("eu-west-1", &HandleDescribeStreamSummary, R"({"StreamName":"only-west"})"),
              "ResourceNotFoundException", 400,
              "Stream only-west under account 123456789012 not found.");
  ExpectError(In("", &HandlePutRecord,
                 R"({"StreamName":"only-west","Data":"YQ==",)"
                 R"("PartitionKey":"k"})"),
              "ResourceNotFoundException", 400,
              "Stream only-west under account 123456789012 not found.");
}

TEST_F(RegionsTest, RecordsStayInTheirRegion) {
  Create("", "logs", 1);
  Create(kWest, "logs", 1);
  ASSERT_EQ(In(kWest, &HandlePutRecord,
               R"({"StreamName":"logs","Data":"d2VzdA==",)"
               R"("PartitionKey":"k"})")
                .status,
            200u);
  ASSERT_EQ(In("", &HandlePutRecords,
               R"({"StreamName":"logs","Records":[{"Data":"ZWFzdA==","PartitionKey":"k"}]})")
                .status,
            200u);
  EXPECT_EQ(ReadAll(kWest, "logs"), std::vector<std::string>{"d2VzdA=="});
  EXPECT_EQ(ReadAll("", "logs"), std::vector<std::string>{"ZWFzdA=="});
}

TEST_F(RegionsTest, AnIteratorIsGoodOnlyInItsRegion) {
  Create("", "logs", 1);
  Create(kWest, "logs", 1);
  const std::string west = Iterator(kWest, "logs");
  ExpectError(In("", &HandleGetRecords, R"({"ShardIterator":")" + west + "\"}"),
              "InvalidArgumentException", 400, "Invalid ShardIterator.");
  ExpectError(In("eu-west-1", &HandleGetRecords, R"({"ShardIterator":")" + west + "\"}"),
              "InvalidArgumentException", 400, "Invalid ShardIterator.");
  EXPECT_EQ(In(kWest, &HandleGetRecords, R"({"ShardIterator":")" + west + "\"}").status, 200u);
  const std::string east = Iterator("", "logs");
  ExpectError(In(kWest, &HandleGetRecords, R"({"ShardIterator":")" + east + "\"}"),
              "InvalidArgumentException", 400, "Invalid ShardIterator.");
}

TEST_F(RegionsTest, StreamArnOfAnotherRegionOrAccountIsNotFound) {
  Create("", "logs", 1);
  Create(kWest, "logs", 1);
  const std::string west_arn = std::string(kArnWest) + "logs";
  EXPECT_EQ(In(kWest, &HandleDescribeStream, R"({"StreamARN":")" + west_arn + "\"}").status, 200u);
  ExpectError(In("", &HandleDescribeStream, R"({"StreamARN":")" + west_arn + "\"}"),
              "ResourceNotFoundException", 400,
              "Stream logs under account 123456789012 not found.");
  ExpectError(In(kWest, &HandlePutRecord,
                 R"({"StreamARN":")" + std::string(kArnEast) +
                     R"(logs","Data":"YQ==","PartitionKey":"k"})"),
              "ResourceNotFoundException", 400,
              "Stream logs under account 123456789012 not found.");
  ExpectError(In(kWest, &HandleDescribeStreamSummary,
                 R"({"StreamARN":"arn:aws:kinesis:us-west-2:210987654321:stream/logs"})"),
              "ResourceNotFoundException", 400,
              "Stream logs under account 210987654321 not found.");
}

TEST_F(RegionsTest, ListStreamsListsOnlyTheRequestsRegionWithoutThePrefix) {
  // The default region's names sort around whole runs of other regions' stored names.
  for (const char* name : {"a", "eu", "f", "us-west-2", "v"})
    Create("", name, 1);
  Create("eu-west-1", "x", 1);
  Create(kWest, "a", 1);
  Create(kWest, "m", 1);
  EXPECT_EQ(List(""), (std::vector<std::string>{"a", "eu", "f", "us-west-2", "v"}));
  EXPECT_EQ(List(kWest), (std::vector<std::string>{"a", "m"}));
  EXPECT_EQ(List("eu-west-1"), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(List("ap-south-1").empty());

  // Pages of one cross the other regions' runs; tokens and exclusive starts are plain names.
  std::vector<std::string> paged;
  std::string body = R"({"Limit":1})";
  for (int i = 0; i < 10; ++i) {
    const auto d = Json(In("", &HandleListStreams, body));
    ASSERT_EQ(d["StreamNames"].Size(), 1u);
    paged.emplace_back(d["StreamNames"][0].GetString());
    ASSERT_EQ(d["StreamSummaries"][0]["StreamARN"].GetString(),
              std::string(kArnEast) + paged.back());
    if (!d["HasMoreStreams"].GetBool()) break;
    body = R"({"Limit":1,"NextToken":")" + std::string(d["NextToken"].GetString()) + "\"}";
  }
  EXPECT_EQ(paged, (std::vector<std::string>{"a", "eu", "f", "us-west-2", "v"}));
  EXPECT_EQ(List(kWest, R"({"ExclusiveStartStreamName":"a"})"), std::vector<std::string>{"m"});
  const auto west = Json(In(kWest, &HandleListStreams, R"({"Limit":1})"));
  EXPECT_TRUE(west["HasMoreStreams"].GetBool());
  EXPECT_STREQ(west["StreamSummaries"][0]["StreamName"].GetString(), "a");
  EXPECT_EQ(west["StreamSummaries"][0]["StreamARN"].GetString(), std::string(kArnWest) + "a");
}

TEST_F(RegionsTest, ConsumerAndResourceArnsCarryTheRegion) {
  Create(kWest, "logs", 1);
  const std::string stream_arn = std::string(kArnWest) + "logs";
  const ApiResponse reg = In(kWest, &HandleRegisterStreamConsumer,
                             R"({"StreamARN":")" + stream_arn + R"(","ConsumerName":"c1"})");
  ASSERT_EQ(reg.status, 200u) << reg.body;
  const std::string consumer_arn = Json(reg)["Consumer"]["ConsumerARN"].GetString();
  EXPECT_EQ(consumer_arn.rfind(stream_arn + "/consumer/c1:", 0), 0u) << consumer_arn;
  // The consumer is found by its ARN in its region only.
  EXPECT_EQ(
      In(kWest, &HandleDescribeStreamConsumer, R"({"ConsumerARN":")" + consumer_arn + "\"}").status,
      200u);
  ExpectError(In("", &HandleDescribeStreamConsumer, R"({"ConsumerARN":")" + consumer_arn + "\"}"),
              "ResourceNotFoundException", 400, "");
  ASSERT_EQ(In(kWest, &HandleTagResource,
               R"({"ResourceARN":")" + stream_arn + R"(","Tags":{"team":"west"}})")
                .status,
            200u);
  ExpectError(In("", &HandleTagResource,
                 R"({"ResourceARN":")" + stream_arn + R"(","Tags":{"team":"east"}})"),
              "ResourceNotFoundException", 400, "Resource " + stream_arn + " not found.");
  const auto tags = Json(In(kWest, &HandleListTagsForStream, R"({"StreamName":"logs"})"));
  ASSERT_EQ(tags["Tags"].Size(), 1u);
  EXPECT_STREQ(tags["Tags"][0]["Value"].GetString(), "west");
}

TEST_F(RegionsTest, StoreMessagesNameTheStreamWithoutItsRegion) {
  Create(kWest, "logs", 1);
  const ApiResponse r = In(kWest, &HandleSplitShard,
                           R"({"StreamName":"logs","ShardToSplit":"shardId-000000000009",)"
                           R"("NewStartingHashKey":"5"})");
  ASSERT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(r.body.find("us-west-2:"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("logs"), std::string::npos) << r.body;
}

TEST_F(RegionsTest, ListShardsTokenIsGoodOnlyInItsRegion) {
  Create("", "logs", 3);
  Create(kWest, "logs", 3);
  const auto page = Json(In(kWest, &HandleListShards, R"({"StreamName":"logs","MaxResults":1})"));
  const std::string token = page["NextToken"].GetString();
  const auto next = Json(In(kWest, &HandleListShards, R"({"NextToken":")" + token + "\"}"));
  EXPECT_EQ(next["Shards"].Size(), 2u);
  ExpectError(In("", &HandleListShards, R"({"NextToken":")" + token + "\"}"),
              "InvalidArgumentException", 400, "Invalid NextToken.");
}

// ---- Through the router: where the region comes from.

constexpr std::string_view kPrefix = kKinesisPrefix;
const auth::Credentials kAdmin{"AKIDADMIN", "admin-secret", ""};
const auth::Credentials kWestOnly{"AKIDWEST", "west-secret", ""};

class RouterRegionsTest : public RouterFixture {
 protected:
  // `sigv4`: auth.mode sigv4 with an admin and a principal allowed us-west-2's streams only.
  void Start(bool sigv4) {
    std::unique_ptr<auth::Authenticator> authenticator;
    if (sigv4) {
      auth::AuthOptions o;
      o.mode = auth::AuthMode::kSigV4;
      auth::Principal admin;
      admin.credentials = kAdmin;
      admin.allow = {"kinesis:*"};
      admin.streams = {"*"};
      auth::Principal west;
      west.credentials = kWestOnly;
      west.allow = {"kinesis:*"};
      west.streams = {std::string(kArnWest) + "*"};
      o.principals = {admin, west};
      authenticator = std::make_unique<auth::Authenticator>(o, "123456789012");
    }
    StartRouter(std::move(authenticator));
  }

  // A Kinesis call signed for `region` with `creds` (unsigned when `region` is empty).
  ApiResponse Kinesis(std::string_view region, std::string_view op, std::string body,
                      const auth::Credentials& creds = kAdmin) {
    return Send(region.empty() ? nullptr : &creds, region, http::verb::post, "/",
                std::string(kPrefix) + std::string(op), "application/x-amz-json-1.1",
                std::move(body));
  }
  std::string Arn(std::string_view region, const std::string& stream) {
    const ApiResponse r =
        Kinesis(region, "DescribeStreamSummary", R"({"StreamName":")" + stream + "\"}");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.status == 200u ? Json(r)["StreamDescriptionSummary"]["StreamARN"].GetString() : "";
  }
};

TEST_F(RouterRegionsTest, WithoutAuthTheRegionIsReadFromTheCredentialScope) {
  Start(/*sigv4=*/false);
  // Signed with any key (nothing is checked), for us-west-2.
  ASSERT_EQ(Kinesis(kWest, "CreateStream", R"({"StreamName":"logs","ShardCount":1})").status, 200u);
  EXPECT_TRUE(store_->DescribeStream(StreamName("us-west-2:logs")).ok());
  EXPECT_FALSE(store_->DescribeStream(StreamName("logs")).ok());
  EXPECT_EQ(Arn(kWest, "logs"), std::string(kArnWest) + "logs");
  // Unsigned: server.region. Signed for the default region: the same streams.
  ASSERT_EQ(Kinesis("", "CreateStream", R"({"StreamName":"logs","ShardCount":2})").status, 200u);
  EXPECT_EQ(Arn("us-east-1", "logs"), std::string(kArnEast) + "logs");
  EXPECT_EQ(Arn("", "logs"), std::string(kArnEast) + "logs");
  EXPECT_EQ(store_->DescribeStream(StreamName("logs"))->shards.size(), 2u);
}

TEST_F(RouterRegionsTest, WithoutAuthAMalformedScopeMeansTheDefaultRegion) {
  Start(/*sigv4=*/false);
  http::fields fields;
  fields.set(http::field::authorization,
             "AWS4-HMAC-SHA256 Credential=K/20260101/Not:A:Region/kinesis/aws4_request, "
             "SignedHeaders=host, Signature=00");
  auto answer = std::make_shared<std::promise<ApiResponse>>();
  auto future = answer->get_future();
  router_->Dispatch(
      RouterRequest{http::verb::post, "/", "Kinesis_20131202.CreateStream", "",
                    std::make_shared<std::string>(R"({"StreamName":"x","ShardCount":1})"), &fields},
      [answer](ApiResponse resp) { answer->set_value(std::move(resp)); }, {});
  while (!blocking_.empty()) {
    auto task = std::move(blocking_.front());
    blocking_.erase(blocking_.begin());
    task();
  }
  EXPECT_EQ(future.get().status, 200u);
  EXPECT_TRUE(store_->DescribeStream(StreamName("x")).ok());
}

TEST_F(RouterRegionsTest, WithSigV4TheSignersRegionChoosesStreamsAndPolicies) {
  Start(/*sigv4=*/true);
  ASSERT_EQ(Kinesis(kWest, "CreateStream", R"({"StreamName":"logs","ShardCount":1})").status, 200u);
  ASSERT_EQ(Kinesis("us-east-1", "CreateStream", R"({"StreamName":"logs","ShardCount":1})").status,
            200u);
  EXPECT_EQ(Arn(kWest, "logs"), std::string(kArnWest) + "logs");
  EXPECT_EQ(Arn("us-east-1", "logs"), std::string(kArnEast) + "logs");
  // A policy on us-west-2's ARNs admits that region's stream, not the same name elsewhere.
  EXPECT_EQ(Kinesis(kWest, "PutRecord", R"({"StreamName":"logs","Data":"YQ==","PartitionKey":"k"})",
                    kWestOnly)
                .status,
            200u);
  ExpectError(Kinesis("us-east-1", "PutRecord",
                      R"({"StreamName":"logs","Data":"YQ==","PartitionKey":"k"})", kWestOnly),
              "AccessDeniedException", 400,
              "User: arn:aws:iam::123456789012:user/AKIDWEST is not authorized to perform: "
              "kinesis:PutRecord on resource: " +
                  std::string(kArnEast) + "logs");
  // The east ARN named from us-west-2: the policy admits nothing of us-east-1's.
  ExpectError(Kinesis(kWest, "DescribeStream",
                      R"({"StreamARN":")" + std::string(kArnEast) + "logs\"}", kWestOnly),
              "AccessDeniedException", 400, "");
  // The admin may, but us-west-2 holds no us-east-1 stream.
  ExpectError(
      Kinesis(kWest, "DescribeStream", R"({"StreamARN":")" + std::string(kArnEast) + "logs\"}"),
      "ResourceNotFoundException", 400, "Stream logs under account 123456789012 not found.");
}

}  // namespace
}  // namespace tideline::server
