// The json processor (bytes -> JSON object) and the fields processor (add / rename / copy /
// remove / metadata), alone and chained after access_log.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline/processor.h"
#include "storage/sequence_number.h"

namespace tideline::pipeline {
namespace {

constexpr uint64_t kShardUid = 9;

class JsonFieldsTest : public ::testing::Test {
 protected:
  JsonFieldsTest()
      : batch_(StreamName("clicks"), ShardId("shardId-000000000002"), ShardUid(kShardUid)) {}

  PipelineRecord& Add(std::string_view data, int64_t arrival_ms = 1767225600123) {
    return batch_.Add(Offset(batch_.records().size() + 1), arrival_ms, "user-17", data);
  }

  static std::unique_ptr<Processor> Json() {
    auto made = MakeJsonProcessor();
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return std::move(made).value();
  }
  static std::unique_ptr<Processor> Fields(const FieldsOptions& options) {
    auto made = MakeFieldsProcessor(options);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  // Runs the fields processor on one record holding `data`; its document, or "FAILED: ...".
  std::string EditOne(std::string_view data, const FieldsOptions& options) {
    Add(data);
    auto processor = Fields(options);
    if (processor == nullptr) return "NO PROCESSOR";
    processor->Process(batch_);
    PipelineRecord& record = batch_.records().back();
    if (!record.ok()) return "FAILED: " + record.error_code + ": " + record.error_message;
    return std::string(batch_.Bytes(record));
  }

  RecordBatch batch_;
};

// ---- json

TEST_F(JsonFieldsTest, JsonProcessorParsesObjectIntoTheRecord) {
  Add(R"({"a": 1, "b": {"c": "d"}})");
  Json()->Process(batch_);
  PipelineRecord& record = batch_.records()[0];
  ASSERT_TRUE(record.ok());
  ASSERT_NE(record.json, nullptr);
  EXPECT_TRUE(record.json->IsObject());
  EXPECT_EQ(batch_.Bytes(record), R"({"a":1,"b":{"c":"d"}})");
}

TEST_F(JsonFieldsTest, JsonProcessorFailsInvalidJsonWithTheParseError) {
  Add(R"({"a": )");
  Add("");
  Json()->Process(batch_);
  for (const PipelineRecord& record : batch_.records()) {
    EXPECT_EQ(record.result, RecordResult::kProcessingFailed);
    EXPECT_EQ(record.error_code, "Json.ParseFailed");
    EXPECT_NE(record.error_message.find("not valid JSON"), std::string::npos);
    EXPECT_NE(record.error_message.find("at offset"), std::string::npos) << record.error_message;
    EXPECT_EQ(record.json, nullptr);
  }
  EXPECT_EQ(batch_.records()[0].error_message,
            "data is not valid JSON: Malformed JSON at offset 6: Invalid value.");
}

TEST_F(JsonFieldsTest, JsonProcessorFailsValidJsonThatIsNotAnObjectAndKeepsItsBytes) {
  Add("[1, 2]");
  Add("\"text\"");
  Add("42");
  Json()->Process(batch_);
  const std::vector<PipelineRecord>& records = batch_.records();
  EXPECT_EQ(records[0].error_message, "data is an array, not a JSON object");
  EXPECT_EQ(records[1].error_message, "data is a string, not a JSON object");
  EXPECT_EQ(records[2].error_message, "data is a number, not a JSON object");
  for (const PipelineRecord& record : records) {
    EXPECT_EQ(record.result, RecordResult::kProcessingFailed);
    EXPECT_EQ(record.error_code, "Json.ParseFailed");
    EXPECT_EQ(record.json, nullptr);
    EXPECT_EQ(record.data, record.raw);
  }
}

TEST_F(JsonFieldsTest, JsonProcessorLeavesRecordsNotOkUntouched) {
  Add("not json");
  Add(R"({"a":1})");
  batch_.records()[0].result = RecordResult::kDropped;
  RecordBatch::Fail(batch_.records()[1], "Lambda.FunctionError", "boom");
  Json()->Process(batch_);
  EXPECT_EQ(batch_.records()[0].result, RecordResult::kDropped);
  EXPECT_TRUE(batch_.records()[0].error_code.empty());
  EXPECT_EQ(batch_.records()[1].error_code, "Lambda.FunctionError");
  EXPECT_EQ(batch_.records()[1].json, nullptr);
  EXPECT_EQ(Json()->type(), "json");
}

// ---- fields: each step

TEST_F(JsonFieldsTest, AddSetsStringsCreatingParentsAndReplacing) {
  FieldsOptions options;
  options.add = {{"env", "prod"}, {"tags.team", "web"}, {"a", "replaced"}};
  EXPECT_EQ(EditOne(R"({"a":1})", options),
            R"({"a":"replaced","env":"prod","tags":{"team":"web"}})");
}

TEST_F(JsonFieldsTest, RenameMovesNestedValueAndIgnoresMissingSource) {
  FieldsOptions options;
  options.rename = {{"a.b", "x.y"}, {"missing", "never"}};
  EXPECT_EQ(EditOne(R"({"a":{"b":[1,2],"k":0},"c":2})", options),
            R"({"a":{"k":0},"c":2,"x":{"y":[1,2]}})");
}

TEST_F(JsonFieldsTest, RenameIntoItsOwnSubpathNestsTheValue) {
  FieldsOptions options;
  options.rename = {{"client_ip", "client_ip.address"}};
  EXPECT_EQ(EditOne(R"({"client_ip":"10.0.0.1"})", options),
            R"({"client_ip":{"address":"10.0.0.1"}})");
}

TEST_F(JsonFieldsTest, CopyIsDeepAndIgnoresMissingSource) {
  FieldsOptions options;
  options.copy = {{"src", "dst.inner"}, {"missing", "never"}};
  options.remove = {"src.k"};  // runs after copy: the copy must not share src's members
  EXPECT_EQ(EditOne(R"({"src":{"k":"v","n":1}})", options),
            R"({"src":{"n":1},"dst":{"inner":{"k":"v","n":1}}})");
}

TEST_F(JsonFieldsTest, RemoveDeletesNestedAndTopLevelAndIgnoresMissing) {
  FieldsOptions options;
  options.remove = {"a.b", "c", "nope", "a.nope.deeper"};
  EXPECT_EQ(EditOne(R"({"a":{"b":1,"keep":2},"c":3,"d":4})", options), R"({"a":{"keep":2},"d":4})");
}

TEST_F(JsonFieldsTest, StepsRunAddRenameCopyRemoveMetadataInThatOrder) {
  FieldsOptions options;
  // Listed so that any other order gives a different document.
  options.metadata = {{"moved", MetadataField::kStream}};
  options.remove = {"moved"};
  options.copy = {{"moved", "copied"}};
  options.rename = {{"added", "moved"}};
  options.add = {{"added", "v"}};
  EXPECT_EQ(EditOne("{}", options), R"({"copied":"v","moved":"clicks"})");
}

TEST_F(JsonFieldsTest, MetadataAddsEveryKindOfValue) {
  FieldsOptions options;
  options.metadata = {{"kinesis.sequence_number", MetadataField::kSequenceNumber},
                      {"kinesis.shard_id", MetadataField::kShardId},
                      {"kinesis.partition_key", MetadataField::kPartitionKey},
                      {"kinesis.stream", MetadataField::kStream},
                      {"arrival_timestamp", MetadataField::kArrivalTimestamp},
                      {"arrival_timestamp_ms", MetadataField::kArrivalTimestampMs}};
  const std::string sequence = EncodeSequenceNumber({kShardUid, 1}).get();
  EXPECT_EQ(EditOne(R"({"m":"x"})", options),
            R"({"m":"x","kinesis":{"sequence_number":")" + sequence +
                R"(","shard_id":"shardId-000000000002","partition_key":"user-17",)"
                R"("stream":"clicks"},"arrival_timestamp":"2026-01-01T00:00:00.123Z",)"
                R"("arrival_timestamp_ms":1767225600123})");
}

TEST_F(JsonFieldsTest, MetadataSequenceNumberFollowsTheRecordOffset) {
  FieldsOptions options;
  options.metadata = {{"seq", MetadataField::kSequenceNumber}};
  Add("{}");
  Add("{}");
  Fields(options)->Process(batch_);
  ASSERT_NE(batch_.records()[1].json, nullptr);
  const JsonValue* seq = FindField(*batch_.records()[1].json, "seq");
  ASSERT_NE(seq, nullptr);
  ASSERT_TRUE(seq->IsString());
  EXPECT_EQ(seq->GetString(), EncodeSequenceNumber({kShardUid, 2}).get());
  EXPECT_NE(EncodeSequenceNumber({kShardUid, 1}).get(), EncodeSequenceNumber({kShardUid, 2}).get());
}

TEST_F(JsonFieldsTest, FieldsFailsDataThatIsNotAnObject) {
  FieldsOptions options;
  options.add = {{"a", "b"}};
  EXPECT_EQ(EditOne("[1]", options),
            "FAILED: Fields.NotAnObject: data is an array, not a JSON object");
  EXPECT_EQ(batch_.records().back().data, "[1]");
  EXPECT_EQ(batch_.records().back().json, nullptr);
  const std::string invalid = EditOne("{oops", options);
  EXPECT_EQ(invalid.rfind("FAILED: Fields.NotAnObject: data is not valid JSON: ", 0), 0u)
      << invalid;
}

TEST_F(JsonFieldsTest, FieldsLeavesRecordsNotOkUntouched) {
  FieldsOptions options;
  options.add = {{"a", "b"}};
  Add(R"({"x":1})");
  Add("[1]");
  batch_.records()[0].result = RecordResult::kDropped;
  RecordBatch::Fail(batch_.records()[1], "Json.ParseFailed", "earlier");
  Fields(options)->Process(batch_);
  EXPECT_EQ(batch_.records()[0].result, RecordResult::kDropped);
  EXPECT_EQ(batch_.records()[0].json, nullptr);
  EXPECT_EQ(batch_.records()[0].data, R"({"x":1})");
  EXPECT_EQ(batch_.records()[1].error_code, "Json.ParseFailed");
  EXPECT_EQ(batch_.records()[1].error_message, "earlier");
}

TEST_F(JsonFieldsTest, ValuesOutliveTheProcessorThatAddedThem) {
  FieldsOptions options;
  options.add = {{"note", std::string(64, 'n')}};
  Add("{}");
  Fields(options)->Process(batch_);  // the processor is destroyed here
  options.add[0].second.assign(64, 'X');
  EXPECT_EQ(batch_.Bytes(batch_.records()[0]), R"({"note":")" + std::string(64, 'n') + "\"}");
}

// ---- fields: options

TEST(FieldsFactoryTest, RejectsEmptyPathsNamingTheStep) {
  struct Case {
    FieldsOptions options;
    std::string message;
  };
  std::vector<Case> cases(6);
  cases[0].options.add = {{"", "v"}};
  cases[0].message = "fields: add[0] target path is empty";
  cases[1].options.rename = {{"a", "b"}, {"", "b"}};
  cases[1].message = "fields: rename[1] source path is empty";
  cases[2].options.copy = {{"a", ""}};
  cases[2].message = "fields: copy[0] target path is empty";
  cases[3].options.remove = {""};
  cases[3].message = "fields: remove[0] path is empty";
  cases[4].options.metadata = {{"", MetadataField::kStream}};
  cases[4].message = "fields: metadata[0] target path is empty";
  cases[5].options.rename = {{"a..b", "c"}};
  cases[5].message = "fields: rename[0] source path 'a..b' has an empty segment";
  for (const Case& c : cases) {
    auto made = MakeFieldsProcessor(c.options);
    ASSERT_FALSE(made.ok()) << c.message;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(made.status().message(), c.message);
  }
}

TEST(FieldsFactoryTest, RejectsUnknownMetadataField) {
  FieldsOptions options;
  options.metadata = {{"x", static_cast<MetadataField>(99)}};
  auto made = MakeFieldsProcessor(options);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
}

TEST(FieldsFactoryTest, AcceptsNoStepsAndNamesItsType) {
  auto made = MakeFieldsProcessor({});
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->type(), "fields");
}

// ---- chains

TEST_F(JsonFieldsTest, AccessLogThenFieldsEditsTheParsedObjectWithoutReparsing) {
  Add(R"(203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "ua")");
  auto access_log = MakeAccessLogProcessor({});
  ASSERT_TRUE(access_log.ok());
  (*access_log)->Process(batch_);
  JsonValue* parsed = batch_.records()[0].json;
  ASSERT_NE(parsed, nullptr);

  FieldsOptions options;
  options.rename = {{"client_ip", "client.ip"}};
  options.remove = {"bytes", "protocol"};
  options.metadata = {{"shard", MetadataField::kShardId}};
  Fields(options)->Process(batch_);
  EXPECT_EQ(batch_.records()[0].json, parsed) << "the same JSON value, edited in place";
  EXPECT_EQ(batch_.Bytes(batch_.records()[0]),
            R"({"@timestamp":"2000-10-10T20:55:36.000Z","method":"GET","path":"/a",)"
            R"("status":200,"user_agent":"ua","client":{"ip":"203.0.113.7"},)"
            R"("shard":"shardId-000000000002"})");
}

TEST_F(JsonFieldsTest, JsonThenFieldsWorksOnTheParsedForm) {
  Add(R"({"level":"info","msg":"hi"})");
  Json()->Process(batch_);
  FieldsOptions options;
  options.rename = {{"msg", "message"}};
  Fields(options)->Process(batch_);
  EXPECT_EQ(batch_.Bytes(batch_.records()[0]), R"({"level":"info","message":"hi"})");
}

}  // namespace
}  // namespace tideline::pipeline
