// The router: which handler a request reaches, what the HTTP layer learns from a header alone,
// and that answers produced off the caller's thread come back through respond_on.
#include "router.h"

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cbor_builder.h"
#include "cbor_codec.h"
#include "handler_fixture.h"

namespace tideline::server {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kPrefix = "Kinesis_20131202.";

class RouterTest : public HandlerTest {
 protected:
  void SetUp() override {
    HandlerTest::SetUp();
    // The blocking executor queues work; RunBlocking() runs it, as the thread pool would.
    api_ = std::make_unique<Api>(ctx_, metrics_, [this](std::function<void()> task) {
      blocking_.push_back(std::move(task));
    });
    router_ = std::make_unique<Router>(Router::Context{
        api_.get(), &metrics_, store_.get(), &pipelines_, &limits_,
        [this](std::function<void()> task) { blocking_.push_back(std::move(task)); }});
  }

  // An append's answer comes back on the store's writer thread, which still holds the Api's
  // in-flight count a moment after the test has its answer: wait for it before the Api goes.
  void TearDown() override {
    if (api_) {
      EXPECT_TRUE(api_->WaitIdle(std::chrono::seconds(30)));
    }
    HandlerTest::TearDown();
  }

  void RunBlocking() {
    while (!blocking_.empty()) {
      auto task = std::move(blocking_.front());
      blocking_.erase(blocking_.begin());
      task();
    }
  }

  // Dispatches and returns the answer, counting the hand-overs through respond_on.
  ApiResponse Dispatch(http::verb method, std::string target, std::string amz_target = "",
                       std::string body = "", std::string content_type = "") {
    auto answer = std::make_shared<std::promise<ApiResponse>>();
    auto future = answer->get_future();
    // Appends complete on the store's writer thread: the counter is atomic.
    const RespondOn respond_on = [this](std::function<void()> task) {
      handed_over_.fetch_add(1);
      task();
    };
    router_->Dispatch(
        RouterRequest{method, target, amz_target, content_type,
                      std::make_shared<std::string>(std::move(body))},
        [answer](ApiResponse r) { answer->set_value(std::move(r)); }, respond_on);
    RunBlocking();
    return future.get();
  }

  ApiResponse Kinesis(std::string_view operation, std::string body) {
    return Dispatch(http::verb::post, "/", std::string(kPrefix) + std::string(operation),
                    std::move(body), "application/x-amz-json-1.1");
  }

  ApiResponse KinesisCbor(std::string_view operation, std::string body) {
    return Dispatch(http::verb::post, "/", std::string(kPrefix) + std::string(operation),
                    std::move(body), "application/x-amz-cbor-1.1");
  }

  Metrics metrics_;
  Limits limits_{16, 2, 1u << 20};
  std::vector<pipeline::Pipeline*> pipelines_;
  std::vector<std::function<void()>> blocking_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Router> router_;
  std::atomic<int> handed_over_{0};
};

TEST_F(RouterTest, ClassifiesFromTheHeaderAlone) {
  const auto put = router_->Classify(http::verb::post, "/", "Kinesis_20131202.PutRecords");
  EXPECT_EQ(put.kind, OperationKind::kPut);
  EXPECT_FALSE(put.probe);
  EXPECT_EQ(router_->Classify(http::verb::post, "/", "Kinesis_20131202.GetRecords").kind,
            OperationKind::kRead);
  EXPECT_EQ(router_->Classify(http::verb::post, "/", "Kinesis_20131202.ListStreams").kind,
            OperationKind::kOther);
  EXPECT_EQ(router_->Classify(http::verb::post, "/", "Nope.PutRecords").kind,
            OperationKind::kOther);
  EXPECT_TRUE(router_->Classify(http::verb::get, "/health", "").probe);
  EXPECT_TRUE(router_->Classify(http::verb::get, "/metrics", "").probe);
  EXPECT_FALSE(router_->Classify(http::verb::get, "/pipelines", "").probe);
  EXPECT_FALSE(router_->Classify(http::verb::get, "/health/x", "").probe);
  // A reset carries a small JSON body, never record data.
  EXPECT_EQ(
      router_->Classify(http::verb::post, "/pipelines/web/reset", "Kinesis_20131202.PutRecords")
          .kind,
      OperationKind::kOther);
}

TEST_F(RouterTest, KinesisCallsRunOffTheCallerAndComeBackThroughRespondOn) {
  const ApiResponse created = Kinesis("CreateStream", R"({"StreamName":"s","ShardCount":1})");
  EXPECT_EQ(created.status, 200u) << created.body;
  EXPECT_EQ(created.content_type, "application/x-amz-json-1.1");
  EXPECT_EQ(handed_over_, 1);

  const ApiResponse put =
      Kinesis("PutRecord", R"({"StreamName":"s","PartitionKey":"k","Data":"YQ=="})");
  EXPECT_EQ(put.status, 200u) << put.body;
  EXPECT_NE(put.body.find("SequenceNumber"), std::string::npos);
  EXPECT_EQ(handed_over_, 2);  // the append's completion, not the writer thread, answered

  const ApiResponse listed = Kinesis("ListStreams", "{}");
  EXPECT_NE(listed.body.find(R"("s")"), std::string::npos) << listed.body;
}

TEST_F(RouterTest, RefusesAForeignContentTypeBeforeAnyHandler) {
  const ApiResponse r = Dispatch(http::verb::post, "/", "Kinesis_20131202.CreateStream",
                                 R"({"StreamName":"s","ShardCount":1})", "text/xml");
  EXPECT_EQ(r.error_type, "SerializationException");
  EXPECT_EQ(handed_over_, 0);
  EXPECT_EQ(Kinesis("ListStreams", "{}").body.find(R"("s")"), std::string::npos);
}

TEST_F(RouterTest, CborRequestsReachTheHandlersAndGetCborAnswers) {
  using namespace test_cbor;
  const ApiResponse created = KinesisCbor(
      "CreateStream", kIndefMap + T("StreamName") + T("s") + T("ShardCount") + U(1) + kBreak);
  EXPECT_EQ(created.status, 200u);
  EXPECT_EQ(created.content_type, "application/x-amz-cbor-1.1");
  EXPECT_EQ(created.body, M(0));

  const std::string data("\x00\x01binary\xff", 9);
  const ApiResponse put =
      KinesisCbor("PutRecord", M(3) + T("StreamName") + T("s") + T("PartitionKey") + T("k") +
                                   T("Data") + B(data));
  ASSERT_EQ(put.status, 200u) << put.body;
  EXPECT_EQ(put.content_type, "application/x-amz-cbor-1.1");
  EXPECT_NE(put.body.find(T("ShardId") + T("shardId-000000000000")), std::string::npos);

  const ApiResponse it =
      KinesisCbor("GetShardIterator", M(3) + T("StreamName") + T("s") + T("ShardId") +
                                          T("shardId-000000000000") + T("ShardIteratorType") +
                                          T("TRIM_HORIZON"));
  ASSERT_EQ(it.status, 200u) << it.body;
  auto json = cbor::DecodeRequest(it.body);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  const std::string key = R"({"ShardIterator":")";
  ASSERT_TRUE(json.value().starts_with(key)) << json.value();
  const std::string iterator =
      json.value().substr(key.size(), json.value().size() - key.size() - 2);

  const ApiResponse got = KinesisCbor("GetRecords", M(1) + T("ShardIterator") + T(iterator));
  ASSERT_EQ(got.status, 200u) << got.body;
  // The record's bytes as a byte string, its arrival time as tag 1 over epoch milliseconds.
  EXPECT_NE(got.body.find(T("Data") + B(data)), std::string::npos);
  const size_t at = got.body.find(T("ApproximateArrivalTimestamp") + Tag(1));
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(static_cast<unsigned char>(got.body[at + 30]), 0x1bu);  // a 64-bit integer follows
  EXPECT_EQ(got.records, 1u);
}

TEST_F(RouterTest, CborErrorsAreCborMapsAndBadCborNeverReachesAHandler) {
  using namespace test_cbor;
  const ApiResponse missing = KinesisCbor("DescribeStream", M(1) + T("StreamName") + T("nope"));
  EXPECT_EQ(missing.status, 400u);
  EXPECT_EQ(missing.error_type, "ResourceNotFoundException");
  EXPECT_EQ(missing.content_type, "application/x-amz-cbor-1.1");
  EXPECT_TRUE(
      missing.body.starts_with(M(2) + T("__type") + T("ResourceNotFoundException") + T("message")))
      << missing.body;

  for (const std::string& bad : {std::string("\xbf"), M(1) + U(1) + U(2), std::string(1000, '\x9f'),
                                 std::string("\x5b\xff\xff\xff\xff\xff\xff\xff\xff")}) {
    const ApiResponse r = KinesisCbor("CreateStream", bad);
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(r.error_type, "SerializationException");
    EXPECT_EQ(r.content_type, "application/x-amz-cbor-1.1");
    EXPECT_TRUE(r.body.starts_with(M(2) + T("__type") + T("SerializationException")));
  }
  EXPECT_EQ(handed_over_, 1);  // only DescribeStream ran
  // A JSON body sent as CBOR is not CBOR: "{" heads a text string longer than the body.
  EXPECT_EQ(KinesisCbor("CreateStream", R"({"StreamName":"s","ShardCount":1})").error_type,
            "SerializationException");
}

TEST_F(RouterTest, UnknownRoutesAndOperationsGetKinesisErrors) {
  const ApiResponse method = Dispatch(http::verb::delete_, "/");
  EXPECT_EQ(method.error_type, "UnknownOperationException");
  EXPECT_NE(method.body.find("Unsupported method DELETE /"), std::string::npos) << method.body;
  EXPECT_EQ(Dispatch(http::verb::get, "/nothing").error_type, "UnknownOperationException");
  EXPECT_EQ(Kinesis("DoSomething", "{}").error_type, "UnknownOperationException");
}

TEST_F(RouterTest, HealthMetricsAndPipelinesAnswerInline) {
  const ApiResponse health = Dispatch(http::verb::get, "/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "ok");
  EXPECT_EQ(health.content_type, "text/plain");

  ASSERT_EQ(Kinesis("ListStreams", "{}").status, 200u);
  const int before = handed_over_;
  const ApiResponse metrics = Dispatch(http::verb::get, "/metrics");
  EXPECT_EQ(handed_over_, before);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(
      metrics.body.find(R"(tideline_api_requests_total{operation="ListStreams",error="none"} 1)"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("tideline_http_inflight_bytes"), std::string::npos);
  EXPECT_NE(metrics.body.find("tideline_store_healthy 1"), std::string::npos);

  const ApiResponse list = Dispatch(http::verb::get, "/pipelines");
  EXPECT_EQ(list.status, 200u);
  EXPECT_EQ(list.content_type, "application/json");
  EXPECT_EQ(Dispatch(http::verb::get, "/pipelines/web").error_type, "ResourceNotFoundException");
  EXPECT_EQ(Dispatch(http::verb::post, "/pipelines/web/reset", "", "{}").error_type,
            "ResourceNotFoundException");
}

}  // namespace
}  // namespace tideline::server
