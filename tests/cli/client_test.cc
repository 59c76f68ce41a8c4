// The CLI's Kinesis client against error bodies and against a real in-process server.
#include <gtest/gtest.h>

#include "cli/kinesis_client.h"
#include "cli/put_batcher.h"
#include "common/base64.h"
#include "server/server.h"
#include "storage/store.h"
#include "test_util/temp_dir.h"

namespace tideline::cli {
namespace {

TEST(ErrorStatus, ReadsKinesisErrorBodies) {
  const Status missing = ErrorStatus(
      {400, R"({"__type":"ResourceNotFoundException","message":"Stream x not found."})"});
  EXPECT_EQ(missing.message(), "ResourceNotFoundException: Stream x not found.");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_FALSE(missing.retryable());

  const Status namespaced =
      ErrorStatus({400, R"({"__type":"com.amazonaws#ValidationException","Message":"bad"})"});
  EXPECT_EQ(namespaced.message(), "ValidationException: bad");

  const Status throttled = ErrorStatus(
      {400, R"({"__type":"ProvisionedThroughputExceededException","message":"slow down"})"});
  EXPECT_TRUE(throttled.retryable());
}

TEST(ErrorStatus, ServerFailuresAndNonJsonBodiesAreRetryable) {
  EXPECT_TRUE(ErrorStatus({500, R"({"__type":"InternalFailure","message":"x"})"}).retryable());
  const Status gateway = ErrorStatus({502, "<html>Bad Gateway</html>"});
  EXPECT_TRUE(gateway.retryable());
  EXPECT_EQ(gateway.message().rfind("HTTP 502: ", 0), 0u) << gateway.message();
}

TEST(KinesisClient, UnreachableEndpointIsARetryableError) {
  KinesisClient client("http://127.0.0.1:1");
  Result<rapidjson::Document> r = client.Call("ListStreams", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().retryable());
  EXPECT_NE(r.status().message().find("cannot reach http://127.0.0.1:1"), std::string::npos);
}

class ClientAgainstServer : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.data_dir = dir_.path();
    options.status_delay = std::chrono::milliseconds(0);  // streams ACTIVE at once
    auto store = storage::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    server::ServerOptions server_options;
    server_options.port = 0;
    auto server = server::Server::Start(server_options, *store_);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
    client_ =
        std::make_unique<KinesisClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  testing::TempDir dir_{"tideline-cli-test"};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<KinesisClient> client_;
};

TEST_F(ClientAgainstServer, PutRecordsBatchReadsBackInOrder) {
  ASSERT_TRUE(client_->Call("CreateStream", R"({"StreamName":"s","ShardCount":1})").ok());
  std::vector<PendingRecord> records;
  for (int i = 0; i < 50; ++i)
    records.push_back({"line " + std::to_string(i), "k"});
  records.push_back({std::string("bin\0\xff", 5), "k"});
  auto put = client_->Call("PutRecords", BuildPutRecordsRequest("s", records));
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ((*put)["FailedRecordCount"].GetInt(), 0);

  auto it = client_->Call(
      "GetShardIterator",
      R"({"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"})");
  ASSERT_TRUE(it.ok()) << it.status().message();
  const std::string request =
      std::string(R"({"ShardIterator":")") + (*it)["ShardIterator"].GetString() + "\"}";
  auto got = client_->Call("GetRecords", request);
  ASSERT_TRUE(got.ok()) << got.status().message();
  const auto& out = (*got)["Records"];
  ASSERT_EQ(out.Size(), records.size());
  for (rapidjson::SizeType i = 0; i < out.Size(); ++i) {
    EXPECT_EQ(Base64Decode(out[i]["Data"].GetString()), records[i].data);
  }
}

TEST_F(ClientAgainstServer, MissingStreamIsAKinesisError) {
  auto r = client_->Call("DescribeStream", R"({"StreamName":"nope"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind("ResourceNotFoundException: ", 0), 0u)
      << r.status().message();
}

}  // namespace
}  // namespace tideline::cli
