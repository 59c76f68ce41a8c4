// Unit tests of the load generator's parts that need no server.
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "http_connection.h"
#include "json_scan.h"
#include "latency_histogram.h"
#include "options.h"
#include "request_pool.h"

namespace tideline::loadgen {
namespace {

TEST(Base64, EncodesRfc4648TestVectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(JsonScan, DecodedSizeMatchesEncodedLengthForEverySize) {
  for (size_t n = 0; n < 50; ++n) {
    std::string encoded = Base64Encode(std::string(n, 'x'));
    std::string body = R"({"Records":[{"Data":")" + encoded + R"("}]})";
    RecordsScan scan = ScanRecords(body);
    EXPECT_EQ(scan.records, 1u);
    EXPECT_EQ(scan.payload_bytes, n) << encoded;
  }
}

TEST(JsonScan, ScanRecordsCountsRecordsAndIgnoresEscapedSlashes) {
  std::string body =
      R"({"Records":[{"SequenceNumber":"1","Data":"Zm9v","PartitionKey":"Data"},)"
      R"({"Data" : "\/\/4A","PartitionKey":"k"}],"NextShardIterator":"a\/b","MillisBehindLatest":0})";
  RecordsScan scan = ScanRecords(body);
  EXPECT_TRUE(scan.well_formed);
  EXPECT_EQ(scan.records, 2u);
  EXPECT_EQ(scan.payload_bytes, 6u);
  EXPECT_EQ(ScanString(body, "NextShardIterator"), "a/b");
  EXPECT_EQ(ScanUnsigned(body, "MillisBehindLatest"), 0u);
}

TEST(JsonScan, ScanRecordsReportsUnterminatedData) {
  RecordsScan scan = ScanRecords(R"({"Records":[{"Data":"Zm9v)");
  EXPECT_FALSE(scan.well_formed);
}

TEST(JsonScan, ScanUnsignedFindsWholeKeysOnly) {
  std::string body = R"({"XFailedRecordCount":7, "FailedRecordCount" : 3})";
  EXPECT_EQ(ScanUnsigned(body, "FailedRecordCount"), 3u);
  EXPECT_EQ(ScanUnsigned(R"({"FailedRecordCount":"x"})", "FailedRecordCount"), std::nullopt);
  EXPECT_EQ(ScanUnsigned("", "FailedRecordCount"), std::nullopt);
  EXPECT_EQ(ScanString(R"({"NextShardIterator":null})", "NextShardIterator"), std::nullopt);
}

TEST(JsonScan, ScanToleratesRandomGarbage) {
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\":,\\ Data0=uFailedRecordCount";
  for (int round = 0; round < 2000; ++round) {
    std::string text(rng() % 64, ' ');
    for (char& c : text)
      c = alphabet[rng() % alphabet.size()];
    (void)ScanRecords(text);
    (void)ScanString(text, "Data");
    (void)ScanUnsigned(text, "FailedRecordCount");
  }
}

TEST(LatencyHistogram, BucketsRoundTripWithinTwoPercent) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 1000ull, 12345ull, 999999ull, 1ull << 40}) {
    uint64_t back = HistogramBuckets::ValueOf(HistogramBuckets::IndexOf(v));
    EXPECT_LE(back > v ? back - v : v - back, v / 50 + 1) << v;
  }
  EXPECT_LT(HistogramBuckets::IndexOf(~0ull), HistogramBuckets::kCount);
}

TEST(LatencyHistogram, PercentilesOfUniformSamples) {
  LatencyHistogram histogram;
  for (uint64_t v = 1; v <= 10000; ++v)
    histogram.Record(v);
  HistogramSnapshot all = histogram.Take();
  EXPECT_EQ(all.Total(), 10000u);
  EXPECT_NEAR(static_cast<double>(all.Percentile(0.5)), 5000.0, 100.0);
  EXPECT_NEAR(static_cast<double>(all.Percentile(0.99)), 9900.0, 200.0);
  EXPECT_EQ(histogram.Max(), 10000u);
  EXPECT_EQ(histogram.TakeIntervalMax(), 10000u);
  EXPECT_EQ(histogram.TakeIntervalMax(), 0u);
}

TEST(LatencyHistogram, IntervalSnapshotHoldsOnlyNewSamples) {
  LatencyHistogram histogram;
  histogram.Record(10);
  HistogramSnapshot first = histogram.Take();
  histogram.Record(5000);
  HistogramSnapshot interval = histogram.Take().Minus(first);
  EXPECT_EQ(interval.Total(), 1u);
  EXPECT_NEAR(static_cast<double>(interval.Percentile(0.5)), 5000.0, 100.0);
}

TEST(Endpoint, ParsesHostPortAndRejectsBadPorts) {
  Endpoint endpoint;
  std::string error;
  ASSERT_TRUE(ParseEndpoint("127.0.0.1:4567", endpoint, error));
  EXPECT_EQ(endpoint.host, "127.0.0.1");
  EXPECT_EQ(endpoint.port, "4567");
  ASSERT_TRUE(ParseEndpoint("[::1]:80", endpoint, error));
  EXPECT_EQ(endpoint.host, "::1");
  for (const char* bad : {"", "host", "host:", ":80", "h:0", "h:65536", "h:8x"}) {
    EXPECT_FALSE(ParseEndpoint(bad, endpoint, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(Options, RejectsValuesBeyondKinesisLimits) {
  LoadgenOptions options;
  EXPECT_EQ(ValidateOptions(options), "");
  options.batch = 501;
  EXPECT_NE(ValidateOptions(options), "");
  options = {};
  options.record_size = 1u << 20;  // 500 x 1 MiB is over 5 MiB
  EXPECT_NE(ValidateOptions(options), "");
  options = {};
  options.stream = "bad name";
  EXPECT_NE(ValidateOptions(options), "");
}

TEST(Options, CaFileNeedsHttpsAndMustBeUsable) {
  LoadgenOptions options;
  options.ca_file = "ca.crt";
  EXPECT_EQ(ValidateOptions(options), "--ca-file needs --https");
  options.https = true;
  EXPECT_EQ(ValidateOptions(options), "");
  std::string error;
  EXPECT_EQ(MakeTlsClientContext("/nonexistent/ca.crt", error), nullptr);
  EXPECT_NE(error.find("/nonexistent/ca.crt"), std::string::npos) << error;
}

// The JSON body of a prepared request.
rapidjson::Document ParseBody(const std::string& raw) {
  size_t split = raw.find("\r\n\r\n");
  EXPECT_NE(split, std::string::npos);
  std::string length_header = "Content-Length: " + std::to_string(raw.size() - split - 4);
  EXPECT_NE(raw.find(length_header), std::string::npos);
  rapidjson::Document doc;
  doc.Parse(raw.c_str() + split + 4);
  EXPECT_FALSE(doc.HasParseError());
  return doc;
}

TEST(RequestPool, PutRecordsRequestsAreValidKinesisJson) {
  LoadgenOptions options;
  options.stream = "s1";
  options.batch = 20;
  options.record_size = 100;
  options.pool_requests = 4;
  auto pool = BuildPutRecordsPool(options);
  ASSERT_EQ(pool.size(), 4u);
  EXPECT_NE(pool[0].raw, pool[1].raw);
  for (const auto& request : pool) {
    EXPECT_EQ(request.records, 20u);
    EXPECT_EQ(request.payload_bytes, 2000u);
    EXPECT_NE(request.raw.find("X-Amz-Target: Kinesis_20131202.PutRecords\r\n"), std::string::npos);
    rapidjson::Document doc = ParseBody(request.raw);
    EXPECT_STREQ(doc["StreamName"].GetString(), "s1");
    ASSERT_EQ(doc["Records"].Size(), 20u);
    EXPECT_EQ(doc["Records"][0]["Data"].GetStringLength(), 136u);  // base64 of 100 bytes
    EXPECT_EQ(doc["Records"][0]["PartitionKey"].GetStringLength(), 16u);
  }
}

TEST(RequestPool, PutRecordRequestsCarryOneRecord) {
  LoadgenOptions options;
  options.mode = Mode::kPutRecord;
  options.record_size = 10;
  options.pool_requests = 1;
  auto pool = BuildPutRecordPool(options);
  ASSERT_EQ(pool.size(), 16u);
  rapidjson::Document doc = ParseBody(pool[3].raw);
  EXPECT_EQ(doc["Data"].GetStringLength(), 16u);
  EXPECT_TRUE(doc.HasMember("PartitionKey"));
}

}  // namespace
}  // namespace tideline::loadgen
