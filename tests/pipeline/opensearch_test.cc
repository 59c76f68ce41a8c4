// The OpenSearch destination's parts, each alone: option checks, index naming, the bulk encoder
// and request planner, gzip bodies, and the retry policy's reading of _bulk responses.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <string>
#include <vector>

#include "opensearch/bulk_encoder.h"
#include "opensearch/index_name.h"
#include "opensearch/options_validation.h"
#include "opensearch/retry_policy.h"

namespace tideline::pipeline::opensearch {
namespace {

// 2016-02-25T13:00:00Z, Firehose's documented example.
constexpr int64_t kExampleMs = 1456405200000;

std::string Name(IndexRotation r, int64_t ms) {
  IndexNamer namer("myindex", r);
  return std::string(namer.NameFor(ms));
}

TEST(IndexNamerTest, MatchesFirehoseRotationExamples) {
  EXPECT_EQ(Name(IndexRotation::kNoRotation, kExampleMs), "myindex");
  EXPECT_EQ(Name(IndexRotation::kOneHour, kExampleMs), "myindex-2016-02-25-13");
  EXPECT_EQ(Name(IndexRotation::kOneDay, kExampleMs), "myindex-2016-02-25");
  EXPECT_EQ(Name(IndexRotation::kOneWeek, kExampleMs), "myindex-2016-w08");
  EXPECT_EQ(Name(IndexRotation::kOneMonth, kExampleMs), "myindex-2016-02");
}

TEST(IndexNamerTest, WeeksStartOnSundayAndDaysBeforeTheFirstSundayAreWeekZero) {
  // 2016-01-01 was a Friday, 2016-01-03 the first Sunday.
  const int64_t jan2 = 1451692800000;  // Saturday 2016-01-02T00:00:00Z
  const int64_t jan3 = 1451779200000;  // Sunday
  EXPECT_EQ(Name(IndexRotation::kOneWeek, jan2), "myindex-2016-w00");
  EXPECT_EQ(Name(IndexRotation::kOneWeek, jan3), "myindex-2016-w01");
  EXPECT_EQ(Name(IndexRotation::kOneWeek, jan3 - 1), "myindex-2016-w00");
}

TEST(IndexNamerTest, ReusedNamerFollowsPeriodBoundariesBothWays) {
  IndexNamer namer("logs", IndexRotation::kOneHour);
  const int64_t hour = 3'600'000;
  const int64_t t = kExampleMs;  // 13:00
  EXPECT_EQ(namer.NameFor(t), "logs-2016-02-25-13");
  EXPECT_EQ(namer.NameFor(t + hour - 1), "logs-2016-02-25-13");
  EXPECT_EQ(namer.NameFor(t + hour), "logs-2016-02-25-14");
  EXPECT_EQ(namer.NameFor(t - 1), "logs-2016-02-25-12");
  IndexNamer months("logs", IndexRotation::kOneMonth);
  EXPECT_EQ(months.NameFor(1456790399999), "logs-2016-02");  // 2016-02-29T23:59:59.999Z
  EXPECT_EQ(months.NameFor(1456790400000), "logs-2016-03");
  IndexNamer weeks("logs", IndexRotation::kOneWeek);
  EXPECT_EQ(weeks.NameFor(1483228799999), "logs-2016-w52");  // 2016-12-31, Saturday
  EXPECT_EQ(weeks.NameFor(1483228800000), "logs-2017-w01");  // 2017-01-01 is a Sunday
}

TEST(IndexNameTest, RejectsNamesOpenSearchRefuses) {
  EXPECT_TRUE(ValidateIndexName("web-logs.2024", "index").ok());
  for (const char* bad :
       {"", "Logs", "_x", "-x", "+x", ".", "..", "a b", "a,b", "a*", "a\"b", "a/b", "a#b", "a:b"}) {
    EXPECT_FALSE(ValidateIndexName(bad, "index").ok()) << bad;
  }
  EXPECT_FALSE(ValidateIndexName(std::string(256, 'a'), "index").ok());
}

struct Docs {
  std::vector<std::string> ids, bodies;
  std::vector<Document> docs;
  void Add(std::string id, std::string body, bool is_object) {
    ids.push_back(std::move(id));
    bodies.push_back(std::move(body));
    docs.emplace_back();
    docs.back().body_is_json_object = is_object;
    docs.back().arrival_ms = kExampleMs;
  }
  std::span<const Document> Finish() {
    for (size_t i = 0; i < docs.size(); ++i) {
      docs[i].id = ids[i];
      docs[i].body = bodies[i];
    }
    return docs;
  }
};

OpenSearchDestinationOptions Options(DocumentIdMode ids = DocumentIdMode::kStable) {
  OpenSearchDestinationOptions o;
  o.urls = {"http://127.0.0.1:9200"};
  o.index = "logs";
  o.rotation = IndexRotation::kOneDay;
  o.document_id = ids;
  return o;
}

std::string ErrorOf(const OpenSearchDestinationOptions& o, uint32_t buffer_mib = 5) {
  BufferOptions buffer;
  buffer.size_mib = buffer_mib;
  return ValidatePipelineDestination(o, buffer, "pipeline p: ").message();
}

TEST(OptionsValidationTest, RejectsEachBadOptionWithItsMessage) {
  EXPECT_EQ(ErrorOf(Options()), "");
  EXPECT_TRUE(ValidateOpenSearchDestination(Options()).ok());
  OpenSearchDestinationOptions o = Options();
  o.urls.clear();
  EXPECT_EQ(ErrorOf(o), "pipeline p: destination url is required");
  o = Options();
  o.urls.push_back("ftp://a");
  EXPECT_EQ(ErrorOf(o),
            "pipeline p: destination url 'ftp://a' must start with http:// or https://");
  o = Options();
  o.index = std::string(242, 'a');
  EXPECT_EQ(ErrorOf(o), "pipeline p: destination index is too long for its rotation");
  o.rotation = IndexRotation::kNoRotation;
  EXPECT_EQ(ErrorOf(o), "");
  o = Options();
  o.concurrency = 17;
  EXPECT_EQ(ErrorOf(o), "pipeline p: destination concurrency must be in 1..16");
  o = Options();
  o.request_timeout_s = 0;
  EXPECT_EQ(ErrorOf(o), "pipeline p: destination request_timeout_s must be in 1..600");
  o = Options();
  o.username = "admin";
  EXPECT_EQ(ErrorOf(o), "pipeline p: destination username and password go together");
  // Without a pipeline there is no prefix and no buffer.
  EXPECT_EQ(ValidateOpenSearchDestination(o).message(),
            "destination username and password go together");
  EXPECT_EQ(ErrorOf(Options(), 101),
            "pipeline p: buffer.size_mib must be in 1..100 for an opensearch destination");
  EXPECT_EQ(ErrorOf(Options(), 100), "");
}

TEST(BulkEncoderTest, StableIdsAreCreatesWithRotatedIndexAndEscapedId) {
  Docs d;
  d.Add("s-1", R"({"a":1})", true);
  d.Add("we\"ird", R"({"b":"x"})", true);
  std::vector<DeliveryResult> results(2);
  EncodedDocuments enc;
  BulkEncoder(Options()).Encode(d.Finish(), results, enc);
  ASSERT_EQ(enc.size(), 2u);
  EXPECT_EQ(enc.Lines(0),
            "{\"create\":{\"_index\":\"logs-2016-02-25\",\"_id\":\"s-1\"}}\n{\"a\":1}\n");
  EXPECT_EQ(enc.Lines(1),
            "{\"create\":{\"_index\":\"logs-2016-02-25\",\"_id\":\"we\\\"ird\"}}\n{\"b\":\"x\"}\n");
  EXPECT_TRUE(enc.is_create(0));
  EXPECT_EQ(results[0].target, "logs-2016-02-25");
  EXPECT_FALSE(results[0].auto_id);
}

TEST(BulkEncoderTest, AutoIdsAreIndexActionsWithoutId) {
  Docs d;
  d.Add("s-1", R"({"a":1})", true);
  std::vector<DeliveryResult> results(1);
  EncodedDocuments enc;
  BulkEncoder(Options(DocumentIdMode::kAuto)).Encode(d.Finish(), results, enc);
  EXPECT_EQ(enc.Lines(0), "{\"index\":{\"_index\":\"logs-2016-02-25\"}}\n{\"a\":1}\n");
  EXPECT_FALSE(enc.is_create(0));
  EXPECT_TRUE(results[0].auto_id);
}

TEST(BulkEncoderTest, PrettyJsonBecomesOneLineAndNonObjectsFailWithoutBeingSent) {
  Docs d;
  d.Add("s-1", "{\n  \"a\": [1,\n 2]\n}", false);
  d.Add("s-2", "[1,2]", false);
  d.Add("s-3", "not json", false);
  d.Add("s-4", R"({"ok":true})", false);
  d.docs[0].index = "explicit";  // a redriven document keeps its index
  std::vector<DeliveryResult> results(4);
  EncodedDocuments enc;
  BulkEncoder(Options()).Encode(d.Finish(), results, enc);
  EXPECT_EQ(enc.Lines(0),
            "{\"create\":{\"_index\":\"explicit\",\"_id\":\"s-1\"}}\n{\"a\":[1,2]}\n");
  EXPECT_TRUE(enc.Lines(1).empty());
  EXPECT_EQ(results[1].error_code, "InvalidDocument");
  EXPECT_EQ(results[1].attempts, 0);
  EXPECT_TRUE(enc.Lines(2).empty());
  EXPECT_NE(results[2].error_message.find("not JSON"), std::string::npos);
  EXPECT_EQ(enc.Lines(3).substr(enc.Lines(3).find('\n') + 1), "{\"ok\":true}\n");
}

std::string Gunzip(std::string_view in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

TEST(BulkRequestTest, PlansRequestsUnderTheSizeLimitAndViewsContiguousRuns) {
  Docs d;
  for (int i = 0; i < 10; ++i)
    d.Add("id-" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}", true);
  std::vector<DeliveryResult> results(10);
  EncodedDocuments enc;
  BulkEncoder(Options()).Encode(d.Finish(), results, enc);
  const size_t one = enc.Lines(0).size();
  std::vector<uint32_t> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto requests = PlanRequests(enc, all, 3 * one + 1, 1);
  ASSERT_EQ(requests.size(), 4u);  // 3 + 3 + 3 + 1
  EXPECT_EQ(requests[3].docs, std::vector<uint32_t>{9});
  BuildBodies(enc, false, requests);
  // A contiguous run is sent from the encoded buffer itself.
  EXPECT_EQ(requests[0].body.data(), enc.Lines(0).data());
  EXPECT_TRUE(requests[0].owned.empty());

  std::vector<uint32_t> gaps = {1, 4, 7};
  auto retry = PlanRequests(enc, gaps, 1 << 20, 1);
  ASSERT_EQ(retry.size(), 1u);
  BuildBodies(enc, false, retry);
  EXPECT_EQ(retry[0].body,
            std::string(enc.Lines(1)) + std::string(enc.Lines(4)) + std::string(enc.Lines(7)));
  BuildBodies(enc, true, retry);
  EXPECT_EQ(Gunzip(retry[0].body),
            std::string(enc.Lines(1)) + std::string(enc.Lines(4)) + std::string(enc.Lines(7)));
}

TEST(BulkRequestTest, DocumentLargerThanTheLimitGoesAlone) {
  Docs d;
  d.Add("a", R"({"x":")" + std::string(1000, 'x') + "\"}", true);
  d.Add("b", R"({"y":1})", true);
  std::vector<DeliveryResult> results(2);
  EncodedDocuments enc;
  BulkEncoder(Options()).Encode(d.Finish(), results, enc);
  std::vector<uint32_t> all = {0, 1};
  auto requests = PlanRequests(enc, all, 100, 1);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].docs, std::vector<uint32_t>{0});
}

TEST(RetryPolicyTest, ItemStatusesMapToFirehoseBehaviour) {
  EXPECT_EQ(ClassifyItem(201, true), ItemAction::kDelivered);
  EXPECT_EQ(ClassifyItem(200, false), ItemAction::kDelivered);
  EXPECT_EQ(ClassifyItem(409, true), ItemAction::kDelivered);  // the stable id is indexed
  EXPECT_EQ(ClassifyItem(409, false), ItemAction::kReject);
  EXPECT_EQ(ClassifyItem(429, true), ItemAction::kRetry);
  EXPECT_EQ(ClassifyItem(503, true), ItemAction::kRetry);
  EXPECT_EQ(ClassifyItem(400, true), ItemAction::kReject);
  EXPECT_EQ(ClassifyItem(404, true), ItemAction::kReject);
}

TEST(RetryPolicyTest, RequestStatusesMapToRetrySplitOrItems) {
  EXPECT_EQ(ClassifyRequest(200), RequestAction::kParseItems);
  EXPECT_EQ(ClassifyRequest(0), RequestAction::kRetryAll);
  EXPECT_EQ(ClassifyRequest(503), RequestAction::kRetryAll);
  EXPECT_EQ(ClassifyRequest(429), RequestAction::kRetryAll);
  EXPECT_EQ(ClassifyRequest(401), RequestAction::kRetryAll);
  EXPECT_EQ(ClassifyRequest(413), RequestAction::kSplit);
  EXPECT_EQ(ClassifyRequest(400), RequestAction::kSplit);
}

TEST(BulkResponseTest, ParsesItemsInOrderWithErrors) {
  const std::string body = R"({"took":3,"errors":true,"items":[
    {"create":{"_index":"l","_id":"1","status":201,"result":"created"}},
    {"create":{"_index":"l","_id":"2","status":429,"error":{"type":"rejected_execution_exception","reason":"busy"}}},
    {"index":{"_index":"l","_id":"3","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}]})";
  auto items = ParseBulkResponse(body, 3);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  EXPECT_EQ((*items)[0].status, 201);
  EXPECT_TRUE((*items)[0].error.empty());
  EXPECT_EQ((*items)[1].status, 429);
  EXPECT_EQ((*items)[2].error, R"({"type":"mapper_parsing_exception","reason":"bad"})");
}

TEST(BulkResponseTest, RejectsAnswersThatDoNotMatchTheRequest) {
  EXPECT_FALSE(ParseBulkResponse("not json", 1).ok());
  EXPECT_FALSE(ParseBulkResponse(R"({"errors":false})", 1).ok());
  EXPECT_FALSE(ParseBulkResponse(R"({"items":[{"index":{"status":201}}]})", 2).ok());
  EXPECT_FALSE(ParseBulkResponse(R"({"items":[{"index":{}}]})", 1).ok());
  EXPECT_FALSE(ParseBulkResponse(R"({"items":[{"index":{"status":"201"}}]})", 1).ok());
}

TEST(BackoffTest, FullJitterStaysUnderTheCappedExponentialCeiling) {
  using std::chrono::milliseconds;
  Backoff b(milliseconds(100), milliseconds(1000), 42);
  bool saw_upper_half = false;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int64_t ceiling = std::min<int64_t>(100 << attempt, 1000);
    for (int i = 0; i < 200; ++i) {
      const auto d = b.Next(attempt).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      saw_upper_half |= d > ceiling / 2;
    }
  }
  EXPECT_TRUE(saw_upper_half);
}

}  // namespace
}  // namespace tideline::pipeline::opensearch
