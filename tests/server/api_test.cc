// The dispatcher: targets, unknown operations, and the metrics it records.
#include <future>

#include "api.h"
#include "handler_fixture.h"
#include "test_util/time_factor.h"

namespace tideline::server {
namespace {

class ApiTest : public HandlerTest {
 protected:
  ApiResponse Dispatch(Api& api, const std::string& target, const std::string& body) {
    auto promise = std::make_shared<std::promise<ApiResponse>>();
    auto future = promise->get_future();
    api.Handle(target, std::make_shared<std::string>(body),
               [promise](ApiResponse r) { promise->set_value(std::move(r)); });
    return future.get();
  }
  Metrics metrics_;
};

TEST_F(ApiTest, UnknownTargetIsUnknownOperationException) {
  Api api(ctx_, metrics_, [](std::function<void()> f) { f(); });
  ExpectError(Dispatch(api, "Kinesis_20131202.SplitTheAtom", "{}"), "UnknownOperationException",
              400, "");
  ExpectError(Dispatch(api, "", "{}"), "UnknownOperationException", 400, "");
  ExpectError(Dispatch(api, "DynamoDB_20120810.ListTables", "{}"), "UnknownOperationException", 400,
              "");
}

TEST_F(ApiTest, ErrorMessagesEchoingInvalidBytesAreStillValidJson) {
  Api api(ctx_, metrics_, [](std::function<void()> f) { f(); });
  // The message quotes the target, which arrived as raw header bytes that are not UTF-8; and a
  // target cut at 128 bytes may end inside a character. ExpectError parses the body as JSON.
  const ApiResponse bad = Dispatch(api, "Kinesis_20131202.\xFF\xFE\xC0\xAF", "{}");
  ExpectError(bad, "UnknownOperationException", 400, "Unknown operation: Kinesis_20131202.");
  EXPECT_NE(bad.body.find("\xEF\xBF\xBD"), std::string::npos) << bad.body;  // U+FFFD
  ExpectError(Dispatch(api, std::string(127, 'x') + "\xC3\xA9", "{}"), "UnknownOperationException",
              400, "Unknown operation: xxx");
}

TEST_F(ApiTest, MetricsCountRequestsErrorsAndRecords) {
  Api api(ctx_, metrics_, [](std::function<void()> f) { f(); });
  ASSERT_EQ(
      Dispatch(api, "Kinesis_20131202.CreateStream", R"({"StreamName":"m","ShardCount":1})").status,
      200u);
  ASSERT_EQ(Dispatch(api, "Kinesis_20131202.PutRecords",
                     R"({"StreamName":"m","Records":[{"Data":"YWJj","PartitionKey":"k"},)"
                     R"({"Data":"ZA==","PartitionKey":"kk"}]})")
                .status,
            200u);
  ASSERT_EQ(Dispatch(api, "Kinesis_20131202.DescribeStream", R"({"StreamName":"none"})").status,
            400u);
  EXPECT_TRUE(api.WaitIdle(tideline::testing::Scaled(std::chrono::milliseconds(1000))));
  PrometheusWriter w;
  metrics_.Render(w, store_->Health(), store_->Stats());
  const std::string text = w.Take();
  // The one PutRecords was one group commit of its two records.
  EXPECT_NE(text.find("tideline_store_group_commit_seconds_count 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tideline_store_group_commit_seconds_bucket{le=\"+Inf\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tideline_store_committed_records_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tideline_store_write_stopped 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tideline_store_l0_files 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(tideline_api_requests_total{operation="PutRecords",error="none"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(tideline_api_requests_total{operation="DescribeStream",)"
                      R"(error="ResourceNotFoundException"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tideline_records_put_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tideline_bytes_put_total 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(tideline_api_request_duration_seconds_count{operation="CreateStream"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tideline_store_healthy 1"), std::string::npos);
}

}  // namespace
}  // namespace tideline::server
