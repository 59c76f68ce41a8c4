// POST /pipelines/NAME/reset as a plain function: errors are Kinesis-shaped, a good request
// moves the checkpoints and answers the pipeline's status.
#include "pipeline_admin.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "pipeline/pipeline.h"
#include "storage/store.h"
#include "test_util/test_store.h"

namespace tideline::server {
namespace {

class PipelineAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status opened = store_.Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    ASSERT_TRUE(store_->CreateStream(StreamName("logs"), 2).ok());
    std::vector<storage::AppendRecord> records;
    for (int i = 0; i < 20; ++i)
      records.push_back({"k", "", "{\"n\":1}"});
    ASSERT_TRUE(store_->Append(StreamName("logs"), records).ok());
    pipeline::PipelineOptions o;
    o.name = "web";
    o.source.stream = StreamName("logs");
    o.source.start = pipeline::StartPosition::kLatest;
    o.buffer.interval_s = 900;  // nothing is delivered (and checkpointed) during a test
    pipeline::FileDestinationOptions file;
    file.path = store_.dir().Sub("out");
    o.destination.options = file;
    o.backup.path = store_.dir().Sub("backup");
    auto p = pipeline::Pipeline::Start(o, *store_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline_ = std::move(*p);
    pipelines_.push_back(pipeline_.get());
  }

  ApiResponse Reset(std::string_view name, std::string_view body) {
    return HandlePipelineReset(pipelines_, name, body);
  }

  testing::TestStore store_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::vector<pipeline::Pipeline*> pipelines_;
};

TEST_F(PipelineAdminTest, BadRequestsGetKinesisErrorsAndChangeNothing) {
  EXPECT_EQ(Reset("nope", R"({"position":"TRIM_HORIZON"})").error_type,
            "ResourceNotFoundException");
  EXPECT_EQ(Reset("web", "{not json").error_type, "SerializationException");
  EXPECT_EQ(Reset("web", R"({"position":"YESTERDAY"})").error_type, "InvalidArgumentException");
  EXPECT_EQ(Reset("web", R"({"position":"AT_SEQUENCE_NUMBER"})").error_type,
            "InvalidArgumentException");
  EXPECT_EQ(Reset("web", R"({"position":"AT_SEQUENCE_NUMBER","sequenceNumber":"42"})").error_type,
            "InvalidArgumentException");
  EXPECT_EQ(Reset("web", R"({"position":"AT_TIMESTAMP","timestampMs":-1})").error_type,
            "InvalidArgumentException");
  EXPECT_EQ(Reset("web", R"({"position":"AT_TIMESTAMP"})").status, 400u);
}

TEST_F(PipelineAdminTest, TrimHorizonMovesEveryShardBeforeTheFirstRecord) {
  const ApiResponse r = Reset("web", R"({"position":"TRIM_HORIZON"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_EQ(std::string(d["pipelines"][0]["name"].GetString()), "web");
  for (const auto& cp : store_->ListCheckpoints("web")) {
    EXPECT_EQ(cp.offset.get(), 0u) << cp.shard.get();  // the next read is offset 1
  }
  EXPECT_EQ(store_->ListCheckpoints("web").size(), 2u);
}

}  // namespace
}  // namespace tideline::server
