// Authentication and permissions in Router::Dispatch: what is open, what needs which action on
// which resource, and that refusals carry AWS's types.
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/beast/http/fields.hpp>

#include "auth/authenticator.h"
#include "auth_resource.h"
#include "iterator_token.h"
#include "router_fixture.h"

namespace tideline::server {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kPrefix = kKinesisPrefix;
const auth::Credentials kProducer{"AKIDPRODUCER", "producer-secret", ""};
const auth::Credentials kAdmin{"AKIDADMIN", "admin-secret", ""};

auth::AuthOptions Options(auth::MetricsAccess metrics) {
  auth::AuthOptions o;
  o.mode = auth::AuthMode::kSigV4;
  o.metrics = metrics;
  auth::Principal producer;
  producer.credentials = kProducer;
  producer.allow = {"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:Describe*",
                    "kinesis:List*"};
  producer.streams = {"web-*"};
  auth::Principal admin;
  admin.credentials = kAdmin;
  admin.allow = {"kinesis:*", "tideline:*"};
  admin.streams = {"*"};
  o.principals = {producer, admin};
  return o;
}

class RouterAuthTest : public RouterFixture {
 protected:
  void Start(auth::MetricsAccess metrics = auth::MetricsAccess::kOpen) {
    StartRouter(std::make_unique<auth::Authenticator>(Options(metrics), "123456789012"));
  }

  // Dispatches, signed with `creds` unless null.
  ApiResponse Send(const auth::Credentials* creds, http::verb method, std::string target,
                   std::string amz_target = "", std::string body = "") {
    return RouterFixture::Send(creds, "us-east-1", method, std::move(target), std::move(amz_target),
                               "", std::move(body));
  }
  ApiResponse Kinesis(const auth::Credentials* creds, std::string_view op, std::string body) {
    return Send(creds, http::verb::post, "/", std::string(kPrefix) + std::string(op),
                std::move(body));
  }
  void CreateStreams() {
    for (const char* name : {"web-1", "orders"}) {
      ASSERT_EQ(Kinesis(&kAdmin, "CreateStream",
                        std::string(R"({"ShardCount":1,"StreamName":")") + name + "\"}")
                    .status,
                200);
    }
  }
};

TEST_F(RouterAuthTest, HealthAndOpenMetricsNeedNoSignature) {
  Start();
  EXPECT_EQ(Send(nullptr, http::verb::get, "/health").status, 200);
  EXPECT_EQ(Send(nullptr, http::verb::get, "/metrics").status, 200);
}

TEST_F(RouterAuthTest, ProtectedMetricsNeedReadMetrics) {
  Start(auth::MetricsAccess::kProtected);
  ExpectError(Send(nullptr, http::verb::get, "/metrics"), "MissingAuthenticationTokenException",
              400, "Missing Authentication Token");
  ExpectError(Send(&kProducer, http::verb::get, "/metrics"), "AccessDeniedException", 400,
              "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized to perform: "
              "tideline:ReadMetrics on resource: arn:aws:tideline:us-east-1:123456789012:metrics");
  EXPECT_EQ(Send(&kAdmin, http::verb::get, "/metrics").status, 200);
}

TEST_F(RouterAuthTest, UnsignedKinesisCallIsRefusedBeforeAnyHandler) {
  Start();
  ExpectError(Kinesis(nullptr, "CreateStream", R"({"ShardCount":1,"StreamName":"web-1"})"),
              "MissingAuthenticationTokenException", 400, "Missing Authentication Token");
  // Nothing was created.
  ExpectError(Kinesis(&kAdmin, "DescribeStreamSummary", R"({"StreamName":"web-1"})"),
              "ResourceNotFoundException", 400, "");
}

TEST_F(RouterAuthTest, ProducerMatrix) {
  Start();
  CreateStreams();
  const std::string put_web = R"({"StreamName":"web-1","Data":"aGk=","PartitionKey":"k"})";
  const std::string put_orders = R"({"Data":"aGk=","PartitionKey":"k","StreamName":"orders"})";
  EXPECT_EQ(Kinesis(&kProducer, "PutRecord", put_web).status, 200);
  EXPECT_EQ(Kinesis(&kProducer, "DescribeStreamSummary", R"({"StreamName":"web-1"})").status, 200);
  ExpectError(Kinesis(&kProducer, "PutRecord", put_orders), "AccessDeniedException", 400,
              "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized to perform: "
              "kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:123456789012:stream/orders "
              "because no identity-based policy allows the kinesis:PutRecord action");
  ExpectError(Kinesis(&kProducer, "DeleteStream", R"({"StreamName":"web-1"})"),
              "AccessDeniedException", 400, "User: arn:aws:iam::123456789012:user/AKIDPRODUCER");
  // ListStreams acts on stream/*, which web-* does not cover (as in IAM).
  ExpectError(Kinesis(&kProducer, "ListStreams", "{}"), "AccessDeniedException", 400, "");
  EXPECT_EQ(Kinesis(&kAdmin, "ListStreams", "{}").status, 200);
  // The ARN form names the stream too.
  ExpectError(Kinesis(&kProducer, "DescribeStreamSummary",
                      R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/orders"})"),
              "AccessDeniedException", 400, "");
  // An escaped key cannot hide the stream from the check.
  ExpectError(Kinesis(&kProducer, "PutRecord",
                      R"({"Stream\u004eame":"orders","Data":"aGk=","PartitionKey":"k"})"),
              "AccessDeniedException", 400, "");
}

TEST_F(RouterAuthTest, PipelineAdminNeedsTidelineActions) {
  Start();
  ExpectError(Send(&kProducer, http::verb::get, "/pipelines"), "AccessDeniedException", 400,
              "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized to perform: "
              "tideline:ReadStatus on resource: "
              "arn:aws:tideline:us-east-1:123456789012:pipeline/*");
  ExpectError(Send(&kProducer, http::verb::post, "/pipelines/web/reset", "", "{}"),
              "AccessDeniedException", 400, "");
  ExpectError(Send(nullptr, http::verb::post, "/pipelines/web/reset", "", "{}"),
              "MissingAuthenticationTokenException", 400, "");
  EXPECT_EQ(Send(&kAdmin, http::verb::get, "/pipelines").status, 200);
  // Allowed: the handler answers (no such pipeline here).
  ExpectError(Send(&kAdmin, http::verb::get, "/pipelines/web"), "ResourceNotFoundException", 400,
              "");
}

TEST_F(RouterAuthTest, GetRecordsIsAuthorizedOnTheIteratorsStream) {
  Start();
  CreateStreams();
  // The body names no stream: the iterator does, and web-* does not cover it.
  IteratorPosition pos{"orders", 1, "shardId-000000000000", 0, kStartMs};
  const std::string token = EncodeShardIterator(pos, store_->IteratorSecret());
  ExpectError(Kinesis(&kProducer, "GetRecords", R"({"ShardIterator":")" + token + "\"}"),
              "AccessDeniedException", 400,
              "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized to perform: "
              "kinesis:GetRecords on resource: arn:aws:kinesis:us-east-1:123456789012:stream/"
              "orders");
}

TEST_F(RouterAuthTest, ConsumerCallsAreAuthorizedOnTheConsumersStream) {
  Start();
  CreateStreams();
  const std::string arn = "arn:aws:kinesis:us-east-1:123456789012:stream/";
  for (const char* stream : {"web-1", "orders"}) {
    ASSERT_EQ(Kinesis(&kAdmin, "RegisterStreamConsumer",
                      R"({"StreamARN":")" + arn + stream + R"(","ConsumerName":"c"})")
                  .status,
              200);
  }
  const auto consumer_arn = [&](const char* stream) {
    const ApiResponse r = Kinesis(&kAdmin, "DescribeStreamConsumer",
                                  R"({"StreamARN":")" + arn + stream + R"(","ConsumerName":"c"})");
    EXPECT_EQ(r.status, 200) << r.body;
    const size_t at = r.body.find("\"ConsumerARN\":\"");
    EXPECT_NE(at, std::string::npos) << r.body;
    const size_t start = at + 15;
    return r.body.substr(start, r.body.find('"', start) - start);
  };
  // The producer may describe web-*'s consumers (kinesis:Describe* on web-1), not orders's.
  const std::string web_consumer = consumer_arn("web-1");
  EXPECT_EQ(
      Kinesis(&kProducer, "DescribeStreamConsumer", R"({"ConsumerARN":")" + web_consumer + "\"}")
          .status,
      200);
  ExpectError(Kinesis(&kProducer, "DescribeStreamConsumer",
                      R"({"ConsumerARN":")" + consumer_arn("orders") + "\"}"),
              "AccessDeniedException", 400,
              "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized to perform: "
              "kinesis:DescribeStreamConsumer on resource: " +
                  arn + "orders because");
  // SubscribeToShard is not among the producer's actions, whatever the stream.
  ExpectError(
      Kinesis(&kProducer, "SubscribeToShard",
              R"({"ConsumerARN":")" + web_consumer +
                  R"(","ShardId":"shardId-000000000000","StartingPosition":{"Type":"LATEST"}})"),
      "AccessDeniedException", 400,
      "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized to perform: "
      "kinesis:SubscribeToShard on resource: " +
          arn + "web-1 because");
}

TEST(FindStreamMembers, ScansTopLevelOnly) {
  auto m = FindStreamMembers(
      R"({"Records":[{"StreamName":"x","Data":"a\"b"}],"Nested":{"StreamName":"y"},)"
      R"( "StreamName" : "web-1", "StreamARN":"arn", "StreamName":"second"})");
  EXPECT_EQ(m.stream_name, "web-1");
  EXPECT_EQ(m.stream_arn, "arn");
  EXPECT_FALSE(m.shard_iterator);
  EXPECT_FALSE(m.consumer_arn);
  m = FindStreamMembers(R"({"ConsumerARN":"arn:c","ShardId":"s"})");
  EXPECT_EQ(m.consumer_arn, "arn:c");
  m = FindStreamMembers(R"({"StreamName":5,"StreamName":"web-1"})");
  EXPECT_FALSE(m.stream_name);  // the handler reads the first member, which is no string
  m = FindStreamMembers(R"({"StreamName":"we\u0062-1"})");
  EXPECT_EQ(m.stream_name, "web-1");
  for (std::string_view bad :
       {"", "[]", "{", R"({"StreamName")", R"({"a":1 "StreamName":"x"})", R"({"StreamName":"x)"}) {
    m = FindStreamMembers(bad);
    EXPECT_FALSE(m.stream_name) << bad;
  }
}

}  // namespace
}  // namespace tideline::server
