// Account settings, maximum record size, warm throughput and StreamId against a real Store.
#include <regex>
#include <string>
#include <vector>

#include "api.h"
#include "common/base64.h"
#include "handler_fixture.h"
#include "record_size_ceiling.h"

namespace tideline::server {
namespace {

constexpr int64_t kDayMs = 24 * 3600 * 1000;

class SettingsTest : public HandlerTest {
 protected:
  void SetUp() override {
    HandlerTest::SetUp();
    ctx_.record_ceiling = &ceiling_;
  }

  rapidjson::Document Summary(const std::string& stream) {
    const ApiResponse r = Call(&HandleDescribeStreamSummary, R"({"StreamName":")" + stream + "\"}");
    EXPECT_EQ(r.status, 200u) << r.body;
    return Json(r);
  }

  ApiResponse SetMaxRecordSize(const std::string& stream, int kib) {
    return Call(&HandleUpdateMaxRecordSize,
                R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/)" + stream +
                    R"(","MaxRecordSizeInKiB":)" + std::to_string(kib) + "}");
  }

  ApiResponse PutOne(const std::string& stream, size_t bytes, const std::string& extra = "") {
    return Call(&HandlePutRecord, R"({"StreamName":")" + stream + R"(","Data":")" +
                                      Base64Encode(std::string(bytes, 'd')) +
                                      R"(","PartitionKey":"k")" + extra + "}");
  }

  ApiResponse Commitment(const std::string& status) {
    return Call(&HandleUpdateAccountSettings,
                R"({"MinimumThroughputBillingCommitment":{"Status":")" + status + "\"}}");
  }

  void CreateOnDemand(const std::string& name) {
    const ApiResponse r =
        Call(&HandleCreateStream,
             R"({"StreamName":")" + name + R"(","StreamModeDetails":{"StreamMode":"ON_DEMAND"}})");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  std::string StreamIdOf(const std::string& stream) {
    auto d = Summary(stream);
    return d["StreamDescriptionSummary"]["StreamId"].GetString();
  }

  RecordSizeCeiling ceiling_;
};

// ---- Account settings.

TEST_F(SettingsTest, AccountCommitmentIsDisabledUntilEnabled) {
  const ApiResponse r = Call(&HandleDescribeAccountSettings, "{}");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, R"({"MinimumThroughputBillingCommitment":{"Status":"DISABLED"}})");
}

TEST_F(SettingsTest, EnablingStartsACommitmentOfAtLeast24Hours) {
  const ApiResponse r = Commitment("ENABLED");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = Json(r);
  const auto& c = d["MinimumThroughputBillingCommitment"];
  EXPECT_STREQ(c["Status"].GetString(), "ENABLED");
  EXPECT_NEAR(c["StartedAt"].GetDouble(), kStartMs / 1000.0, 0.001);
  EXPECT_NEAR(c["EarliestAllowedEndAt"].GetDouble(), (kStartMs + kDayMs) / 1000.0, 0.001);
  EXPECT_FALSE(c.HasMember("EndedAt"));
  // DescribeAccountSettings reports the same, and it survives a restart.
  OpenStore();
  EXPECT_EQ(Call(&HandleDescribeAccountSettings, "{}").body, r.body);
}

TEST_F(SettingsTest, DisablingEarlyWaitsForTheEarliestEndAndReEnablingCancelsIt) {
  ASSERT_EQ(Commitment("ENABLED").status, 200u);
  clock_.AdvanceMs(3600 * 1000);
  auto d = Json(Commitment("DISABLED"));
  EXPECT_STREQ(d["MinimumThroughputBillingCommitment"]["Status"].GetString(),
               "ENABLED_UNTIL_EARLIEST_ALLOWED_END");
  // Enabling again before the end cancels the pending disable; the start stays.
  d = Json(Commitment("ENABLED"));
  EXPECT_STREQ(d["MinimumThroughputBillingCommitment"]["Status"].GetString(), "ENABLED");
  EXPECT_NEAR(d["MinimumThroughputBillingCommitment"]["StartedAt"].GetDouble(), kStartMs / 1000.0,
              0.001);
  // A pending disable takes effect at the earliest allowed end.
  ASSERT_EQ(Commitment("DISABLED").status, 200u);
  clock_.AdvanceMs(kDayMs);
  d = Json(Call(&HandleDescribeAccountSettings, "{}"));
  const auto& c = d["MinimumThroughputBillingCommitment"];
  EXPECT_STREQ(c["Status"].GetString(), "DISABLED");
  EXPECT_NEAR(c["EndedAt"].GetDouble(), (kStartMs + kDayMs) / 1000.0, 0.001);
  EXPECT_FALSE(c.HasMember("EarliestAllowedEndAt"));
}

TEST_F(SettingsTest, DisablingAfterTheEarliestEndEndsTheCommitmentAtOnce) {
  ASSERT_EQ(Commitment("ENABLED").status, 200u);
  clock_.AdvanceMs(kDayMs + 5000);
  auto d = Json(Commitment("DISABLED"));
  const auto& c = d["MinimumThroughputBillingCommitment"];
  EXPECT_STREQ(c["Status"].GetString(), "DISABLED");
  EXPECT_NEAR(c["EndedAt"].GetDouble(), (kStartMs + kDayMs + 5000) / 1000.0, 0.001);
}

TEST_F(SettingsTest, UpdateAccountSettingsValidatesAgainstTheModel) {
  ExpectError(Call(&HandleUpdateAccountSettings, "{}"), "ValidationException", 400,
              "1 validation error detected: Value null at 'minimumThroughputBillingCommitment'");
  ExpectError(Commitment("MAYBE"), "ValidationException", 400,
              "1 validation error detected: Value 'MAYBE' at "
              "'minimumThroughputBillingCommitment.status'");
  EXPECT_EQ(store_->GetAccountSettings(), storage::AccountSettings{});
}

// ---- Maximum record size.

TEST_F(SettingsTest, StreamsStartAt1MiBRecordsAndSummaryReportsTheLimit) {
  CreateStream("s", 1);
  auto d = Summary("s");
  EXPECT_EQ(d["StreamDescriptionSummary"]["MaxRecordSizeInKiB"].GetInt(), 1024);
  // DescribeStream's StreamDescription has no such member in the model.
  auto full = Json(Call(&HandleDescribeStream, R"({"StreamName":"s"})"));
  EXPECT_FALSE(full["StreamDescription"].HasMember("MaxRecordSizeInKiB"));
}

TEST_F(SettingsTest, UpdateMaxRecordSizeLetsLargerRecordsIn) {
  CreateStream("big", 1);
  ExpectError(PutOne("big", (2u << 20) + 1), "ValidationException", 400,
              "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=2097153 "
              "cap=2097153]' at 'data' failed to satisfy constraint: Member must have length less "
              "than or equal to 1048576");
  const ApiResponse r = SetMaxRecordSize("big", 2048);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(Summary("big")["StreamDescriptionSummary"]["MaxRecordSizeInKiB"].GetInt(), 2048);
  EXPECT_EQ(PutOne("big", 2u << 20).status, 200u);
  ExpectError(PutOne("big", (2u << 20) + 1), "ValidationException", 400,
              "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=2097153 "
              "cap=2097153]' at 'data' failed to satisfy constraint: Member must have length less "
              "than or equal to 2097152");
  // The limit is the stream's: another stream keeps 1 MiB.
  CreateStream("small", 1);
  EXPECT_EQ(PutOne("small", (1u << 20) + 1).status, 400u);
}

TEST_F(SettingsTest, PutRecordsChecksEveryRecordAgainstTheStreamsLimitAndAllows10MiB) {
  CreateStream("s", 1);
  ASSERT_EQ(SetMaxRecordSize("s", 3072).status, 200u);
  const std::string three = Base64Encode(std::string(3u << 20, 'a'));
  const std::string over = Base64Encode(std::string((3u << 20) + 1, 'a'));
  auto body = [&](const std::vector<std::string>& datas) {
    std::string b = R"({"StreamName":"s","Records":[)";
    for (size_t i = 0; i < datas.size(); ++i) {
      if (i > 0) b += ",";
      b += R"({"Data":")" + datas[i] + R"(","PartitionKey":"k"})";
    }
    return b + "]}";
  };
  // 9 MiB in one request: over the 5 MiB of 1 MiB streams, within 10 MiB.
  const ApiResponse ok = Call(&HandlePutRecords, body({three, three, three}));
  ASSERT_EQ(ok.status, 200u) << ok.body.substr(0, 300);
  EXPECT_EQ(Json(ok)["FailedRecordCount"].GetInt(), 0);
  ExpectError(Call(&HandlePutRecords, body({three, over})), "ValidationException", 400,
              "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=3145729 "
              "cap=3145729]' at 'records.2.member.data' failed to satisfy constraint: Member must "
              "have length less than or equal to 3145728");
  ExpectError(Call(&HandlePutRecords, body({three, three, three, three})),
              "InvalidArgumentException", 400, "Records size exceeds 10 MB limit");
}

TEST_F(SettingsTest, UpdateMaxRecordSizeValidatesItsArguments) {
  CreateStream("s", 1);
  ExpectError(SetMaxRecordSize("s", 1023), "ValidationException", 400,
              "1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to satisfy "
              "constraint: Member must have value greater than or equal to 1024");
  ExpectError(SetMaxRecordSize("s", 10241), "ValidationException", 400,
              "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB'");
  ExpectError(Call(&HandleUpdateMaxRecordSize, R"({"MaxRecordSizeInKiB":2048})"),
              "ValidationException", 400,
              "1 validation error detected: Value null at 'streamARN' failed to satisfy "
              "constraint: Member must not be null");
  ExpectError(SetMaxRecordSize("missing", 2048), "ResourceNotFoundException", 400,
              "Stream missing under account 123456789012 not found.");
}

TEST_F(SettingsTest, CreateStreamTakesMaxRecordSizeInKiB) {
  const ApiResponse r =
      Call(&HandleCreateStream, R"({"StreamName":"c","ShardCount":1,"MaxRecordSizeInKiB":4096})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Summary("c")["StreamDescriptionSummary"]["MaxRecordSizeInKiB"].GetInt(), 4096);
  EXPECT_EQ(ceiling_.kib(), 4096u);
}

TEST_F(SettingsTest, TheBodyLimitFollowsTheLargestRecordAnyStreamTakes) {
  constexpr size_t kConfigured = 8u << 20;
  constexpr uint64_t kInflight = 64u << 20;
  EXPECT_EQ(PutBodyLimit(kConfigured, ceiling_.kib(), kInflight), kConfigured);
  EXPECT_EQ(PutBodyLimit(4096, ceiling_.kib(), kInflight), 4096u);  // as configured
  CreateStream("a", 1);
  CreateStream("b", 1);
  ASSERT_EQ(SetMaxRecordSize("a", 10240).status, 200u);
  ASSERT_EQ(SetMaxRecordSize("b", 2048).status, 200u);
  EXPECT_EQ(ceiling_.kib(), 10240u);
  // A 10 MiB record (or PutRecords) is ~13.4 MiB of base64 plus JSON.
  const size_t limit = PutBodyLimit(kConfigured, ceiling_.kib(), kInflight);
  EXPECT_GE(limit, Base64EncodedSize(10u << 20) + 1024);
  EXPECT_LE(limit, 16u << 20);
  // Never above the in-flight budget, which bounds memory.
  EXPECT_EQ(PutBodyLimit(kConfigured, ceiling_.kib(), 12u << 20), 12u << 20);
  // Lowering the largest stream's limit lowers the ceiling to the next largest.
  ASSERT_EQ(SetMaxRecordSize("a", 1024).status, 200u);
  EXPECT_EQ(ceiling_.kib(), 2048u);
  RecordSizeCeiling fresh;
  fresh.Recompute(*store_);
  EXPECT_EQ(fresh.kib(), 2048u);
}

// ---- Warm throughput.

TEST_F(SettingsTest, WarmThroughputNeedsAnOnDemandStreamAndTheCommitment) {
  CreateStream("prov", 1);
  CreateOnDemand("od");
  const std::string set_od = R"({"StreamName":"od","WarmThroughputMiBps":200})";
  ExpectError(
      Call(&HandleUpdateStreamWarmThroughput, R"({"StreamName":"prov","WarmThroughputMiBps":200})"),
      "InvalidArgumentException", 400,
      "Warm throughput is only supported for streams in ON_DEMAND capacity mode.");
  ExpectError(Call(&HandleUpdateStreamWarmThroughput, set_od), "InvalidArgumentException", 400,
              "Warm throughput requires the account's MinimumThroughputBillingCommitment");
  EXPECT_FALSE(Summary("od")["StreamDescriptionSummary"].HasMember("WarmThroughput"));
  ASSERT_EQ(Commitment("ENABLED").status, 200u);
  ExpectError(
      Call(&HandleUpdateStreamWarmThroughput, R"({"StreamName":"od","WarmThroughputMiBps":10241})"),
      "LimitExceededException", 400, "Requested warm throughput of 10241 MiBps");
  ExpectError(
      Call(&HandleUpdateStreamWarmThroughput, R"({"StreamName":"gone","WarmThroughputMiBps":1})"),
      "ResourceNotFoundException", 400, "Stream gone under account");

  const ApiResponse r = Call(&HandleUpdateStreamWarmThroughput, set_od);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body,
            R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/od","StreamName":"od",)"
            R"("WarmThroughput":{"TargetMiBps":200,"CurrentMiBps":200}})");
  auto d = Summary("od");
  EXPECT_EQ(d["StreamDescriptionSummary"]["WarmThroughput"]["TargetMiBps"].GetInt(), 200);
  EXPECT_EQ(d["StreamDescriptionSummary"]["WarmThroughput"]["CurrentMiBps"].GetInt(), 200);
  // Switched to provisioned, the stream has none.
  ASSERT_EQ(Call(&HandleUpdateStreamMode,
                 R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/od",)"
                 R"("StreamModeDetails":{"StreamMode":"PROVISIONED"}})")
                .status,
            200u);
  EXPECT_FALSE(Summary("od")["StreamDescriptionSummary"].HasMember("WarmThroughput"));
}

TEST_F(SettingsTest, CreateStreamAndUpdateStreamModeTakeWarmThroughput) {
  ASSERT_EQ(Commitment("ENABLED").status, 200u);
  ExpectError(Call(&HandleCreateStream, R"({"StreamName":"p","WarmThroughputMiBps":5})"),
              "InvalidArgumentException", 400, "Warm throughput is only supported");
  const ApiResponse r = Call(&HandleCreateStream,
                             R"({"StreamName":"w","StreamModeDetails":{"StreamMode":"ON_DEMAND"},)"
                             R"("WarmThroughputMiBps":64})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Summary("w")["StreamDescriptionSummary"]["WarmThroughput"]["TargetMiBps"].GetInt(), 64);
  CreateStream("later", 1);
  ASSERT_EQ(Call(&HandleUpdateStreamMode,
                 R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/later",)"
                 R"("StreamModeDetails":{"StreamMode":"ON_DEMAND"},"WarmThroughputMiBps":32})")
                .status,
            200u);
  EXPECT_EQ(Summary("later")["StreamDescriptionSummary"]["WarmThroughput"]["TargetMiBps"].GetInt(),
            32);
}

// ---- StreamId.

TEST_F(SettingsTest, EveryStreamHasAStableStreamIdInItsSummary) {
  CreateStream("a", 1);
  CreateStream("b", 1);
  const std::string a = StreamIdOf("a");
  EXPECT_TRUE(std::regex_match(a, std::regex("[a-z0-9]{20}-[a-z0-9]{3}"))) << a;
  EXPECT_NE(a, StreamIdOf("b"));
  OpenStore();
  EXPECT_EQ(StreamIdOf("a"), a);
  // A stream made again under the same name is another stream.
  ASSERT_EQ(Call(&HandleDeleteStream, R"({"StreamName":"a"})").status, 200u);
  CreateStream("a", 1);
  EXPECT_NE(StreamIdOf("a"), a);
}

// Through Api, as requests arrive: every operation with a StreamId member checks it.
class StreamIdApiTest : public SettingsTest {
 protected:
  ApiResponse Handle(const std::string& op, const std::string& body) {
    Metrics metrics;
    Api api(ctx_, metrics, [](std::function<void()> task) { task(); });
    std::promise<ApiResponse> done;
    api.Handle("Kinesis_20131202." + op, std::make_shared<std::string>(body),
               [&](ApiResponse r) { done.set_value(std::move(r)); });
    ApiResponse r = done.get_future().get();
    // An append answers on the store's writer thread, which then still marks the request done.
    EXPECT_TRUE(api.WaitIdle(std::chrono::seconds(30)));
    return r;
  }
};

TEST_F(StreamIdApiTest, AMatchingStreamIdIsAcceptedAndAnotherIsResourceNotFound) {
  CreateStream("s", 1);
  const std::string id = StreamIdOf("s");
  const std::string other = "aaaaaaaaaaaaaaaaaaaa-zzz";
  ASSERT_NE(id, other);
  const std::string arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
  EXPECT_EQ(
      Handle("DescribeStreamSummary", R"({"StreamName":"s","StreamId":")" + id + "\"}").status,
      200u);
  ExpectError(Handle("DescribeStreamSummary", R"({"StreamName":"s","StreamId":")" + other + "\"}"),
              "ResourceNotFoundException", 400,
              "Stream s with StreamId aaaaaaaaaaaaaaaaaaaa-zzz under account 123456789012 not "
              "found.");
  ExpectError(Handle("UpdateMaxRecordSize", R"({"StreamARN":")" + arn + R"(","StreamId":")" +
                                                other + R"(","MaxRecordSizeInKiB":2048})"),
              "ResourceNotFoundException", 400, "Stream s with StreamId");
  EXPECT_EQ(store_->GetStreamAttributes(StreamName("s"))->max_record_size_kib, 1024u);
  ExpectError(Handle("ListTagsForResource",
                     R"({"ResourceARN":")" + arn + R"(","StreamId":")" + other + "\"}"),
              "ResourceNotFoundException", 400, "Stream s with StreamId");
  // The appends check it too, and accept the right one.
  const std::string put = R"({"StreamName":"s","Data":"AA==","PartitionKey":"k","StreamId":")";
  EXPECT_EQ(Handle("PutRecord", put + id + "\"}").status, 200u);
  ExpectError(Handle("PutRecord", put + other + "\"}"), "ResourceNotFoundException", 400,
              "Stream s with StreamId");
  // A shard iterator names the stream of GetRecords.
  auto it = Json(Handle("GetShardIterator", R"({"StreamName":"s","ShardId":"shardId-000000000000",)"
                                            R"("ShardIteratorType":"TRIM_HORIZON"})"));
  const std::string iterator = it["ShardIterator"].GetString();
  EXPECT_EQ(
      Handle("GetRecords", R"({"ShardIterator":")" + iterator + R"(","StreamId":")" + id + "\"}")
          .status,
      200u);
  ExpectError(Handle("GetRecords",
                     R"({"ShardIterator":")" + iterator + R"(","StreamId":")" + other + "\"}"),
              "ResourceNotFoundException", 400, "Stream s with StreamId");
  // A malformed id is the model's ValidationException.
  ExpectError(Handle("DescribeStreamSummary", R"({"StreamName":"s","StreamId":"NOPE"})"),
              "ValidationException", 400,
              "1 validation error detected: Value 'NOPE' at 'streamId'");
  // An unknown stream is still the handler's own answer.
  ExpectError(Handle("DescribeStreamSummary", R"({"StreamName":"nope","StreamId":")" + id + "\"}"),
              "ResourceNotFoundException", 400, "Stream nope under account");
}

}  // namespace
}  // namespace tideline::server
