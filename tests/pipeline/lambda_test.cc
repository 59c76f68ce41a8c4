// The lambda processor against a real HTTP server (lambda_test_server.h) and real Python
// subprocesses (tools/), plus its protocol functions alone.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

#include "common/base64.h"
#include "lambda/lambda_protocol.h"
#include "lambda_test_server.h"
#include "pipeline/processor.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline {
namespace {

using lambda_test::Entry;
using lambda_test::HttpRequest;
using lambda_test::HttpResponse;
using lambda_test::LambdaTestServer;
using lambda_test::RecordsOf;
using lambda_test::ResponseJson;
using lambda_test::SentRecord;
using lambda_test::Transform;
using lambda_test::Upper;
using std::chrono::milliseconds;

const std::string kTools = TIDELINE_LAMBDA_TOOLS_DIR;
// The system interpreter when there is one: a version manager's `python3` shim can take a
// second to start, which every child restart would pay.
const std::string kPython =
    ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
constexpr uint64_t kShardUid = 7;

// ---- Builders and readers

std::unique_ptr<RecordBatch> MakeBatch(const std::vector<std::string>& data,
                                       const std::string& stream = "orders") {
  auto batch = std::make_unique<RecordBatch>(StreamName(stream), ShardId("shardId-000000000003"),
                                             ShardUid(kShardUid));
  for (size_t i = 0; i < data.size(); ++i) {
    batch->Add(Offset(i + 1), 1'700'000'000'000 + static_cast<int64_t>(i),
               "key-" + std::to_string(i), data[i]);
  }
  return batch;
}

std::string DataOf(RecordBatch& batch, size_t i) {
  return std::string(batch.Bytes(batch.records()[i]));
}

std::string IdOf(const RecordBatch& batch, size_t i) {
  return batch.SequenceNumberOf(batch.records()[i]).get();
}

rapidjson::Document ParseJson(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  EXPECT_FALSE(doc.HasParseError()) << body;
  return doc;
}

LambdaOptions HttpOptions(const LambdaTestServer& server) {
  LambdaOptions o;
  o.url = server.url();
  o.pipeline_name = "clicks";
  o.account = {"eu-west-1", "111122223333"};
  o.retries = 2;
  o.timeout = milliseconds(10'000);
  return o;
}

LambdaOptions CommandOptions(const std::string& script) {
  LambdaOptions o;
  o.command = {kPython, kTools + "/" + script};
  o.pipeline_name = "clicks";
  o.retries = 2;
  o.timeout = milliseconds(10'000);
  return o;
}

std::unique_ptr<Processor> Make(const LambdaOptions& options) {
  Result<std::unique_ptr<Processor>> p = MakeLambdaProcessor(options);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p.value()) : nullptr;
}

void ExpectAllFailed(const RecordBatch& batch, std::string_view code, int attempts) {
  for (const PipelineRecord& r : batch.records()) {
    EXPECT_EQ(r.result, RecordResult::kProcessingFailed);
    EXPECT_EQ(r.error_code, code) << r.error_message;
    EXPECT_EQ(r.attempts, attempts);
  }
}

// ---- Protocol alone

TEST(LambdaProtocolTest, RequestIsOneJsonLineWhoseSizeIsEnvelopePlusEntries) {
  const lambda::RequestContext ctx{"arn:aws:firehose:r:1:deliverystream/p",
                                   "arn:aws:kinesis:r:1:stream/s", "r", "shardId-000000000000"};
  std::string a, b;
  lambda::AppendRecordEntry(ctx, {"1", 5, "x\ny", "k\"\\\n", "1"}, a);
  lambda::AppendRecordEntry(ctx, {"2", 6, "", "k", "2"}, b);
  const std::string request = lambda::EncodeRequest(ctx, lambda::NewInvocationId(), a + "," + b);
  EXPECT_EQ(request.find('\n'), std::string::npos);
  EXPECT_EQ(request.size(), lambda::RequestEnvelopeBytes(ctx) + a.size() + 1 + b.size());
  rapidjson::Document doc = ParseJson(request);
  ASSERT_TRUE(doc.IsObject());
  const auto& records = doc["records"];
  ASSERT_EQ(records.Size(), 2u);
  EXPECT_STREQ(records[0]["kinesisRecordMetadata"]["partitionKey"].GetString(), "k\"\\\n");
  EXPECT_EQ(Base64Decode(records[0]["data"].GetString()), "x\ny");
  EXPECT_STREQ(records[1]["data"].GetString(), "");
}

TEST(LambdaProtocolTest, InvocationIdsAreDistinctVersion4Uuids) {
  const std::string a = lambda::NewInvocationId();
  const std::string b = lambda::NewInvocationId();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  for (size_t i : {8, 13, 18, 23})
    EXPECT_EQ(a[i], '-');
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
}

TEST(LambdaProtocolTest, BodyThatIsNotAResponseFailsTheInvocation) {
  const std::vector<std::string> ids = {"1"};
  for (const char* body : {"", "not json", "[]", "{}", "{\"records\":{}}", "{\"records\":[]} x"}) {
    EXPECT_FALSE(lambda::ParseResponse(body, ids).ok()) << body;
  }
}

TEST(LambdaProtocolTest, ResponseFailsOnlyTheRecordsItGetsWrong) {
  const std::vector<std::string> ids = {"ok",  "drop",      "failed", "missing",
                                        "dup", "badresult", "nodata", "badbase64"};
  const std::string body = ResponseJson({{"ok", "Ok", "hi"},
                                         {"drop", "Dropped", std::nullopt},
                                         {"failed", "ProcessingFailed", std::nullopt},
                                         {"dup", "Ok", "1"},
                                         {"dup", "Ok", "2"},
                                         {"stranger", "Ok", "?"},
                                         {"badresult", "Fine", "x"},
                                         {"nodata", "Ok", std::nullopt}});
  // Spliced in: an entry with data that is not base64, and entries that name no record.
  const std::string extra = ",{\"recordId\":\"badbase64\",\"result\":\"Ok\",\"data\":\"@@\"},7,{}";
  const std::string full = body.substr(0, body.size() - 2) + extra + "]}";
  Result<lambda::ParsedResponse> parsed = lambda::ParseResponse(full, ids);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  using Kind = lambda::RecordOutcome::Kind;
  const auto& o = parsed->outcomes;
  ASSERT_EQ(o.size(), ids.size());
  EXPECT_EQ(o[0].kind, Kind::kOk);
  EXPECT_EQ(o[0].data, "hi");
  EXPECT_EQ(o[1].kind, Kind::kDropped);
  EXPECT_EQ(o[2].error_code, lambda::kProcessingFailedStatus);
  EXPECT_EQ(o[3].error_code, lambda::kMissingRecordId);
  EXPECT_EQ(o[4].error_code, lambda::kDuplicatedRecordId);
  EXPECT_EQ(o[5].error_code, lambda::kJsonProcessingException);
  EXPECT_EQ(o[6].error_code, lambda::kJsonProcessingException);
  EXPECT_EQ(o[7].error_code, lambda::kJsonProcessingException);
  EXPECT_EQ(parsed->unknown_ids, 1u);
}

// ---- HTTP

TEST(LambdaHttpTest, AllOkReplacesDataWithTheDecodedResponse) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({"alpha", "", "gamma"});
  Make(HttpOptions(server))->Process(*batch);
  for (size_t i = 0; i < 3; ++i) {
    const PipelineRecord& r = batch->records()[i];
    EXPECT_EQ(r.result, RecordResult::kOk);
    EXPECT_EQ(r.attempts, 1);
  }
  EXPECT_EQ(DataOf(*batch, 0), "ALPHA");
  EXPECT_EQ(DataOf(*batch, 1), "");
  EXPECT_EQ(DataOf(*batch, 2), "GAMMA");
  EXPECT_EQ(batch->records()[0].raw, "alpha");  // the stored record never changes
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(LambdaHttpTest, DroppedResultMarksTheRecordsDropped) {
  LambdaTestServer server;
  server.SetHandler(Transform([](const SentRecord& r) { return Entry{r.id, "Dropped"}; }));
  auto batch = MakeBatch({"a", "b"});
  Make(HttpOptions(server))->Process(*batch);
  for (const PipelineRecord& r : batch->records())
    EXPECT_EQ(r.result, RecordResult::kDropped);
}

TEST(LambdaHttpTest, ProcessingFailedResultFailsWithProcessingFailedStatus) {
  LambdaTestServer server;
  server.SetHandler(Transform([](const SentRecord& r) { return Entry{r.id, "ProcessingFailed"}; }));
  auto batch = MakeBatch({"a"});
  Make(HttpOptions(server))->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.ProcessingFailedStatus", 1);
  EXPECT_EQ(batch->records()[0].error_message, "ProcessingFailed status set for record");
  EXPECT_EQ(server.request_count(), 1u);  // a record's own failure is not retried
}

TEST(LambdaHttpTest, MixedResultsApplyPerRecord) {
  LambdaTestServer server;
  server.SetHandler(Transform([](const SentRecord& r) {
    if (r.data == "drop") return Entry{r.id, "Dropped"};
    if (r.data == "fail") return Entry{r.id, "ProcessingFailed"};
    return Upper(r);
  }));
  auto batch = MakeBatch({"keep", "drop", "fail", "more"});
  Make(HttpOptions(server))->Process(*batch);
  const auto& r = batch->records();
  EXPECT_EQ(r[0].result, RecordResult::kOk);
  EXPECT_EQ(DataOf(*batch, 0), "KEEP");
  EXPECT_EQ(r[1].result, RecordResult::kDropped);
  EXPECT_EQ(r[2].result, RecordResult::kProcessingFailed);
  EXPECT_EQ(r[3].result, RecordResult::kOk);
  EXPECT_EQ(DataOf(*batch, 3), "MORE");
}

TEST(LambdaHttpTest, AnotherRegionsStreamHasThatRegionsSourceArn) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({"x"}, "us-west-2:orders");
  Make(HttpOptions(server))->Process(*batch);
  ASSERT_EQ(server.request_count(), 1u);
  rapidjson::Document doc = ParseJson(server.requests()[0].body);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["sourceKinesisStreamArn"].GetString(),
               "arn:aws:kinesis:us-west-2:111122223333:stream/orders");
  EXPECT_EQ(DataOf(*batch, 0), "X");
}

TEST(LambdaHttpTest, RequestCarriesArnsMetadataAndTheCurrentDataInBase64) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({"raw-0", "raw-1"});
  batch->SetBytes(batch->records()[1], "changed by an earlier processor");
  Make(HttpOptions(server))->Process(*batch);
  ASSERT_EQ(server.request_count(), 1u);
  const HttpRequest req = server.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.content_type, "application/json");
  rapidjson::Document doc = ParseJson(req.body);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(std::string(doc["invocationId"].GetString()).size(), 36u);
  EXPECT_STREQ(doc["deliveryStreamArn"].GetString(),
               "arn:aws:firehose:eu-west-1:111122223333:deliverystream/clicks");
  EXPECT_STREQ(doc["sourceKinesisStreamArn"].GetString(),
               "arn:aws:kinesis:eu-west-1:111122223333:stream/orders");
  EXPECT_STREQ(doc["region"].GetString(), "eu-west-1");
  const auto& records = doc["records"];
  ASSERT_EQ(records.Size(), 2u);
  for (unsigned i = 0; i < 2; ++i) {
    const auto& r = records[i];
    const auto& meta = r["kinesisRecordMetadata"];
    EXPECT_EQ(r["recordId"].GetString(), IdOf(*batch, i));
    EXPECT_EQ(r["approximateArrivalTimestamp"].GetInt64(), 1'700'000'000'000 + i);
    EXPECT_STREQ(meta["shardId"].GetString(), "shardId-000000000003");
    EXPECT_EQ(meta["partitionKey"].GetString(), "key-" + std::to_string(i));
    EXPECT_EQ(meta["approximateArrivalTimestamp"].GetInt64(), 1'700'000'000'000 + i);
    EXPECT_EQ(meta["sequenceNumber"].GetString(), IdOf(*batch, i));
    EXPECT_EQ(meta["subsequenceNumber"].GetInt(), 0);
  }
  EXPECT_STREQ(records[0]["data"].GetString(), Base64Encode("raw-0").c_str());
  EXPECT_EQ(Base64Decode(records[1]["data"].GetString()), "changed by an earlier processor");
}

TEST(LambdaHttpTest, OnlyOkRecordsAreSentAndTheOthersAreUntouched) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({"dropped", "ok", "failed"});
  batch->records()[0].result = RecordResult::kDropped;
  RecordBatch::Fail(batch->records()[2], "Json.ParseFailed", "earlier");
  Make(HttpOptions(server))->Process(*batch);
  ASSERT_EQ(server.request_count(), 1u);
  const std::vector<SentRecord> sent = RecordsOf(server.requests()[0].body);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].data, "ok");
  EXPECT_EQ(batch->records()[0].result, RecordResult::kDropped);
  EXPECT_EQ(DataOf(*batch, 0), "dropped");
  EXPECT_EQ(batch->records()[2].error_code, "Json.ParseFailed");
  EXPECT_EQ(DataOf(*batch, 1), "OK");
}

TEST(LambdaHttpTest, ParsedJsonRecordsAreSentAsCompactJson) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({"{ \"a\" : [1, 2] }"});
  ASSERT_NE(batch->Json(batch->records()[0]), nullptr);
  Make(HttpOptions(server))->Process(*batch);
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(RecordsOf(server.requests()[0].body)[0].data, "{\"a\":[1,2]}");
  EXPECT_EQ(DataOf(*batch, 0), "{\"A\":[1,2]}");
}

TEST(LambdaHttpTest, ResponseThatIsNotAResponseIsRetriedThenFailsEveryRecord) {
  for (const char* body : {"not json", "[]", "{\"records\":7}"}) {
    SCOPED_TRACE(body);
    LambdaTestServer server;
    server.SetHandler([&](const HttpRequest&) { return HttpResponse{200, body}; });
    auto batch = MakeBatch({"a", "b"});
    LambdaOptions options = HttpOptions(server);
    options.retries = 2;
    Make(options)->Process(*batch);
    EXPECT_EQ(server.request_count(), 3u);
    ExpectAllFailed(*batch, "Lambda.JsonProcessingException", 3);
  }
}

TEST(LambdaHttpTest, MissingRecordIdFailsOnlyThatRecord) {
  LambdaTestServer server;
  server.SetHandler([](const HttpRequest& req) {
    const std::vector<SentRecord> sent = RecordsOf(req.body);
    return HttpResponse{200, ResponseJson({Upper(sent[0]), Upper(sent[2])})};
  });
  auto batch = MakeBatch({"a", "b", "c"});
  Make(HttpOptions(server))->Process(*batch);
  const auto& r = batch->records();
  EXPECT_EQ(DataOf(*batch, 0), "A");
  EXPECT_EQ(r[1].error_code, "Lambda.MissingRecordId");
  EXPECT_EQ(DataOf(*batch, 2), "C");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(LambdaHttpTest, UnknownRecordIdIsIgnoredAndTheReplacedRecordFailsAsMissing) {
  LambdaTestServer server;
  server.SetHandler([](const HttpRequest& req) {
    const std::vector<SentRecord> sent = RecordsOf(req.body);
    return HttpResponse{200, ResponseJson({Upper(sent[0]), {"not-a-record-id", "Ok", "x"}})};
  });
  auto batch = MakeBatch({"a", "b"});
  Make(HttpOptions(server))->Process(*batch);
  EXPECT_EQ(batch->records()[0].result, RecordResult::kOk);
  EXPECT_EQ(DataOf(*batch, 0), "A");
  EXPECT_EQ(batch->records()[1].error_code, "Lambda.MissingRecordId");
}

TEST(LambdaHttpTest, DuplicatedRecordIdFailsOnlyThatRecord) {
  LambdaTestServer server;
  server.SetHandler([](const HttpRequest& req) {
    const std::vector<SentRecord> sent = RecordsOf(req.body);
    return HttpResponse{200, ResponseJson({Upper(sent[0]), Upper(sent[1]), Upper(sent[1])})};
  });
  auto batch = MakeBatch({"a", "b"});
  Make(HttpOptions(server))->Process(*batch);
  EXPECT_EQ(DataOf(*batch, 0), "A");
  EXPECT_EQ(batch->records()[1].error_code, "Lambda.DuplicatedRecordId");
  EXPECT_EQ(batch->records()[1].attempts, 1);
}

TEST(LambdaHttpTest, EntriesBreakingTheStatusModelFailOnlyTheirRecords) {
  LambdaTestServer server;
  server.SetHandler([](const HttpRequest& req) {
    const std::vector<SentRecord> s = RecordsOf(req.body);
    std::string body = ResponseJson({{s[0].id, "Okay", "x"}, {s[1].id, "Ok"}, Upper(s[3])});
    body.insert(body.size() - 2,
                ",{\"recordId\":\"" + s[2].id + "\",\"result\":\"Ok\",\"data\":3}");
    return HttpResponse{200, body};
  });
  auto batch = MakeBatch({"bad result", "no data", "data not a string", "fine"});
  Make(HttpOptions(server))->Process(*batch);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(batch->records()[i].error_code, "Lambda.JsonProcessingException") << i;
  EXPECT_EQ(DataOf(*batch, 3), "FINE");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(LambdaHttpTest, ServerErrorThenSuccessIsRetriedWithAFreshInvocationId) {
  LambdaTestServer server;
  std::atomic<int> calls = 0;
  server.SetHandler([&](const HttpRequest& req) {
    if (++calls == 1) return HttpResponse{500, "boom"};
    return Transform(Upper)(req);
  });
  auto batch = MakeBatch({"a", "b"});
  Make(HttpOptions(server))->Process(*batch);
  EXPECT_EQ(DataOf(*batch, 0), "A");
  EXPECT_EQ(DataOf(*batch, 1), "B");
  EXPECT_EQ(batch->records()[0].attempts, 2);
  const std::vector<HttpRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_STRNE(ParseJson(requests[0].body)["invocationId"].GetString(),
               ParseJson(requests[1].body)["invocationId"].GetString());
  EXPECT_EQ(RecordsOf(requests[0].body)[1].id, RecordsOf(requests[1].body)[1].id);
}

TEST(LambdaHttpTest, ErrorStatusesFailWithFirehoseCodesAfterRetries) {
  const std::vector<std::pair<int, std::string>> cases = {{500, "Lambda.FunctionError"},
                                                          {429, "Lambda.InvokeLimitExceeded"},
                                                          {404, "Lambda.ResourceNotFound"},
                                                          {403, "Lambda.InvokeAccessDenied"}};
  for (const auto& [status, code] : cases) {
    SCOPED_TRACE(status);
    LambdaTestServer server;
    server.SetHandler([status = status](const HttpRequest&) { return HttpResponse{status, "no"}; });
    auto batch = MakeBatch({"a"});
    LambdaOptions options = HttpOptions(server);
    options.retries = 1;
    Make(options)->Process(*batch);
    ExpectAllFailed(*batch, code, 2);
    EXPECT_NE(batch->records()[0].error_message.find("HTTP " + std::to_string(status)),
              std::string::npos);
    EXPECT_EQ(server.request_count(), 2u);
  }
}

TEST(LambdaHttpTest, TimeoutIsRetriedThenFailsWithFunctionError) {
  LambdaTestServer server;
  server.SetHandler([&](const HttpRequest& req) {
    server.Stall(milliseconds(30'000));  // until the server shuts down
    return Transform(Upper)(req);
  });
  auto batch = MakeBatch({"a", "b"});
  LambdaOptions options = HttpOptions(server);
  options.timeout = testing::Scaled(milliseconds(200));
  options.retries = 1;
  Make(options)->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.FunctionError", 2);
  EXPECT_NE(batch->records()[0].error_message.find("within " +
                                                   std::to_string(options.timeout.count()) + " ms"),
            std::string::npos);
  EXPECT_TRUE(server.WaitForRequests(2, milliseconds(10'000)));
}

TEST(LambdaHttpTest, TimeoutThenPromptAnswerSucceeds) {
  LambdaTestServer server;
  std::atomic<int> calls = 0;
  server.SetHandler([&](const HttpRequest& req) {
    if (++calls == 1) server.Stall(milliseconds(30'000));
    return Transform(Upper)(req);
  });
  auto batch = MakeBatch({"a"});
  LambdaOptions options = HttpOptions(server);
  // Room for the prompt answer on a loaded machine (TIDELINE_TEST_TIME_FACTOR under sanitizers).
  options.timeout = testing::Scaled(milliseconds(500));
  Make(options)->Process(*batch);
  EXPECT_EQ(DataOf(*batch, 0), "A");
  EXPECT_EQ(batch->records()[0].attempts, 2);
}

TEST(LambdaHttpTest, UnreachableUrlFailsWithFunctionErrorAfterRetries) {
  LambdaOptions options;
  {
    LambdaTestServer closed;  // a port that was just free, and is again
    options = HttpOptions(closed);
  }
  options.retries = 1;
  auto batch = MakeBatch({"a"});
  Make(options)->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.FunctionError", 2);
}

TEST(LambdaHttpTest, BatchesSplitByMaxBatchRecords) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch(std::vector<std::string>(10, "x"));
  LambdaOptions options = HttpOptions(server);
  options.max_batch_records = 3;
  Make(options)->Process(*batch);
  std::vector<size_t> sizes;
  for (const HttpRequest& req : server.requests())
    sizes.push_back(RecordsOf(req.body).size());
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 3, 1}));
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(DataOf(*batch, i), "X");
}

TEST(LambdaHttpTest, BatchesSplitByMaxBatchBytesAndKeepRecordOrder) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch(std::vector<std::string>(10, std::string(200, 'y')));
  LambdaOptions options = HttpOptions(server);
  options.max_batch_bytes = 2048;
  Make(options)->Process(*batch);
  const std::vector<HttpRequest> requests = server.requests();
  ASSERT_GE(requests.size(), 2u);
  std::vector<std::string> ids;
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_LE(requests[i].body.size(), 2048u);
    const std::vector<SentRecord> sent = RecordsOf(requests[i].body);
    if (i + 1 < requests.size()) {
      EXPECT_GE(sent.size(), 2u);  // packed, not one per request
    }
    for (const SentRecord& r : sent)
      ids.push_back(r.id);
  }
  ASSERT_EQ(ids.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(ids[i], IdOf(*batch, i));
    EXPECT_EQ(DataOf(*batch, i), std::string(200, 'Y'));
  }
}

TEST(LambdaHttpTest, RecordOverMaxBatchBytesIsSentAlone) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({"a", std::string(3000, 'b'), "c"});
  LambdaOptions options = HttpOptions(server);
  options.max_batch_bytes = 1024;
  Make(options)->Process(*batch);
  std::vector<size_t> sizes;
  for (const HttpRequest& req : server.requests())
    sizes.push_back(RecordsOf(req.body).size());
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1}));
  EXPECT_EQ(DataOf(*batch, 1), std::string(3000, 'B'));
}

TEST(LambdaHttpTest, RecordOverTheLambdaPayloadLimitFailsWithoutAnInvocation) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto batch = MakeBatch({std::string(5u << 20, 'z'), "small"});
  LambdaOptions options = HttpOptions(server);
  options.max_batch_bytes = lambda::kMaxPayloadBytes;
  Make(options)->Process(*batch);
  EXPECT_EQ(batch->records()[0].error_code, "Lambda.RequestEntityTooLargeException");
  EXPECT_EQ(DataOf(*batch, 1), "SMALL");
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(RecordsOf(server.requests()[0].body).size(), 1u);
}

TEST(LambdaHttpTest, ResponseOverTheLambdaPayloadLimitFailsTheInvocation) {
  LambdaTestServer server;
  server.SetHandler([](const HttpRequest&) {
    return HttpResponse{200, std::string(7u << 20, ' ')};
  });
  auto batch = MakeBatch({"a"});
  LambdaOptions options = HttpOptions(server);
  options.retries = 0;
  Make(options)->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.FunctionError", 1);
  EXPECT_NE(batch->records()[0].error_message.find("exceeds"), std::string::npos);
}

TEST(LambdaHttpTest, ConnectionIsKeptAliveAcrossInvocations) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto processor = Make(HttpOptions(server));
  for (int i = 0; i < 3; ++i) {
    auto batch = MakeBatch({"a"});
    processor->Process(*batch);
    EXPECT_EQ(DataOf(*batch, 0), "A");
  }
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(server.connection_count(), 1u);
}

TEST(LambdaHttpTest, ConcurrentBatchesAreProcessedIndependently) {
  LambdaTestServer server;
  server.SetHandler(Transform(Upper));
  auto processor = Make(HttpOptions(server));
  std::vector<std::unique_ptr<RecordBatch>> batches;
  for (int t = 0; t < 4; ++t)
    batches.push_back(MakeBatch(std::vector<std::string>(50, "t" + std::to_string(t))));
  std::vector<std::thread> threads;
  for (auto& batch : batches)
    threads.emplace_back([&processor, &batch] { processor->Process(*batch); });
  for (auto& t : threads)
    t.join();
  for (int t = 0; t < 4; ++t) {
    for (size_t i = 0; i < 50; ++i)
      EXPECT_EQ(DataOf(*batches[t], i), "T" + std::to_string(t));
  }
}

TEST(LambdaOptionsTest, InvalidOptionsAreRejected) {
  auto rejected = [](void (*edit)(LambdaOptions&)) {
    LambdaOptions o;
    o.url = "http://127.0.0.1:1/";
    edit(o);
    Result<std::unique_ptr<Processor>> p = MakeLambdaProcessor(o);
    return !p.ok() && p.status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_FALSE(rejected([](LambdaOptions&) {}));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.url.clear(); }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.command = {"python3"}; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.url = "ftp://x/"; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.max_batch_bytes = 1023; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.max_batch_bytes = (6u << 20) + 1; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.max_batch_records = 0; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.retries = -1; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.retries = 301; }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) { o.timeout = milliseconds(0); }));
  EXPECT_TRUE(rejected([](LambdaOptions& o) {
    o.url.clear();
    o.command = {"no-such-transformer-binary"};
  }));
  EXPECT_FALSE(rejected([](LambdaOptions& o) {
    o.url.clear();
    o.command = {"python3", "-c", "pass"};
  }));
}

// ---- Subprocess

TEST(LambdaProcessTest, SubprocessTransformsDropsAndFails) {
  auto batch = MakeBatch({"hello", "drop me", "fail me", "world"});
  Make(CommandOptions("transformer.py"))->Process(*batch);
  const auto& r = batch->records();
  EXPECT_EQ(DataOf(*batch, 0), "HELLO");
  EXPECT_EQ(r[1].result, RecordResult::kDropped);
  EXPECT_EQ(r[2].error_code, "Lambda.ProcessingFailedStatus");
  EXPECT_EQ(DataOf(*batch, 3), "WORLD");
}

TEST(LambdaProcessTest, SubprocessIsReusedAcrossBatches) {
  auto processor = Make(CommandOptions("transformer.py"));
  auto first = MakeBatch({"count"});
  processor->Process(*first);
  auto second = MakeBatch({"count"});
  processor->Process(*second);
  EXPECT_EQ(DataOf(*first, 0), "1");
  EXPECT_EQ(DataOf(*second, 0), "2");
}

TEST(LambdaProcessTest, SubprocessThatExitsImmediatelyFailsRecordsAfterRetries) {
  auto batch = MakeBatch({"a", "b"});
  Make(CommandOptions("exit_immediately.py"))->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.FunctionError", 3);
  EXPECT_NE(batch->records()[0].error_message.find("exited with status 5"), std::string::npos)
      << batch->records()[0].error_message;
}

TEST(LambdaProcessTest, SubprocessClosingItsStdinFailsTheRecordsWithoutSigpipe) {
  // A request far bigger than a pipe's buffer, to a child that closed its stdin: the write
  // fails with EPIPE, and SIGPIPE (default action: end the process) must not reach us.
  auto batch = MakeBatch({std::string(1u << 20, 'p')});
  LambdaOptions options = CommandOptions("close_stdin.py");
  options.retries = 0;
  Make(options)->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.FunctionError", 1);
  EXPECT_NE(batch->records()[0].error_message.find("Broken pipe"), std::string::npos)
      << batch->records()[0].error_message;
}

TEST(LambdaProcessTest, SubprocessThatDiedIsReplacedForTheNextBatch) {
  auto processor = Make(CommandOptions("transformer.py"));
  auto before = MakeBatch({"pid"});
  processor->Process(*before);
  auto dying = MakeBatch({"a", "die"});
  processor->Process(*dying);
  ExpectAllFailed(*dying, "Lambda.FunctionError", 3);
  EXPECT_NE(dying->records()[0].error_message.find("exited with status 3"), std::string::npos);
  auto after = MakeBatch({"pid", "ok"});
  processor->Process(*after);
  EXPECT_EQ(after->records()[0].result, RecordResult::kOk);
  EXPECT_NE(DataOf(*after, 0), DataOf(*before, 0));
  EXPECT_EQ(DataOf(*after, 1), "OK");
}

TEST(LambdaProcessTest, SubprocessWritingGarbageIsReplaced) {
  auto processor = Make(CommandOptions("transformer.py"));
  auto before = MakeBatch({"pid"});
  processor->Process(*before);
  auto garbage = MakeBatch({"garbage"});
  processor->Process(*garbage);
  ExpectAllFailed(*garbage, "Lambda.JsonProcessingException", 3);
  auto after = MakeBatch({"pid"});
  processor->Process(*after);
  EXPECT_EQ(after->records()[0].result, RecordResult::kOk);
  EXPECT_NE(DataOf(*after, 0), DataOf(*before, 0));
}

TEST(LambdaProcessTest, SubprocessThatHangsTimesOut) {
  auto batch = MakeBatch({"a"});
  LambdaOptions options = CommandOptions("hang.py");
  options.timeout = testing::Scaled(milliseconds(300));
  options.retries = 1;
  Make(options)->Process(*batch);
  ExpectAllFailed(*batch, "Lambda.FunctionError", 2);
  EXPECT_NE(batch->records()[0].error_message.find("no response within " +
                                                   std::to_string(options.timeout.count()) + " ms"),
            std::string::npos);
}

size_t OpenFileDescriptors() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

TEST(LambdaProcessTest, DestroyingTheProcessorReapsChildrenAndClosesPipes) {
  const size_t fds = OpenFileDescriptors();
  auto processor = Make(CommandOptions("transformer.py"));
  auto dying = MakeBatch({"die"});
  processor->Process(*dying);
  auto batch = MakeBatch({"pid"});
  processor->Process(*batch);
  ASSERT_EQ(batch->records()[0].result, RecordResult::kOk);
  const pid_t pid = std::stoi(DataOf(*batch, 0));
  EXPECT_EQ(::kill(pid, 0), 0);  // alive, serving
  processor.reset();
  EXPECT_EQ(::kill(pid, 0), -1);  // reaped: not even a zombie
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(OpenFileDescriptors(), fds);
}

}  // namespace
}  // namespace tideline::pipeline
