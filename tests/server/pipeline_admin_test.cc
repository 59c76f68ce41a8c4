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
    o.source.start = storage::StreamPosition::Latest();
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
  for (const auto& cp : store_->ListCheckpoints(CheckpointOwner("web"))) {
    EXPECT_EQ(cp.offset.get(), 0u) << cp.shard.get();  // the next read is offset 1
  }
  EXPECT_EQ(store_->ListCheckpoints(CheckpointOwner("web")).size(), 2u);
}

TEST_F(PipelineAdminTest, LatestAndAfterSequenceNumberUseTheSameVocabularyAsIterators) {
  // LATEST: every shard's next read is past its last record.
  ASSERT_EQ(Reset("web", R"({"position":"LATEST"})").status, 200u);
  uint64_t total = 0;
  for (const storage::Checkpoint& cp : store_->ListCheckpoints(CheckpointOwner("web"))) {
    auto info = store_->DescribeStream(StreamName("logs"));
    ASSERT_TRUE(info.ok());
    for (const storage::ShardInfo& shard : info->shards) {
      if (shard.id == cp.shard) {
        EXPECT_EQ(cp.offset, shard.last_offset) << cp.shard.get();
      }
    }
    total += cp.offset.get();
  }
  EXPECT_EQ(total, 20u);  // the 20 records, all behind the checkpoints

  // AFTER_SEQUENCE_NUMBER: only that record's shard moves, to just after it.
  const auto appended = store_->Append(
      StreamName("logs"), std::vector<storage::AppendRecord>{{"k", "", "a"}, {"k", "", "b"}});
  ASSERT_TRUE(appended.ok());
  const std::string first = (*appended)[0].sequence_number.get();
  const ShardId shard = (*appended)[0].shard_id;
  const ApiResponse r =
      Reset("web", R"({"position":"AFTER_SEQUENCE_NUMBER","sequenceNumber":")" + first + R"("})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto cp = store_->GetCheckpoint(CheckpointOwner("web"), StreamName("logs"), shard);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->sequence_number.get(), first);  // handled up to it: the next read is "b"
  EXPECT_EQ(Reset("web", R"({"position":"AFTER_SEQUENCE_NUMBER"})").error_type,
            "InvalidArgumentException");
}

}  // namespace
}  // namespace tideline::server
