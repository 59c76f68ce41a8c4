// The geoip processor and its address classification (the MMDB writer the tests build their
// databases with is tested in mmdb_writer_test.cc).
#include <gtest/gtest.h>
#include <maxminddb.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "geoip_fixtures.h"
#include "mmdb/mmdb_writer.h"
#include "pipeline/processor.h"
#include "pipeline/record_batch.h"
#include "processors/geoip_address.h"
#include "test_util/temp_dir.h"

namespace tideline::pipeline {
namespace {

using mmdb::MmdbNetwork;
using mmdb::WriteMmdb;
using testing::TempDir;

class GeoIpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteMmdb(city_path_, "GeoLite2-City", CityNetworks()).ok());
    ASSERT_TRUE(WriteMmdb(asn_path_, "GeoLite2-ASN", AsnNetworks()).ok());
  }

  // A processor over the City database (and the ASN one when `with_asn`).
  std::unique_ptr<Processor> Make(GeoIpOptions options = {}, bool with_asn = true) {
    if (options.database.empty()) options.database = city_path_;
    if (with_asn && options.asn_database.empty()) options.asn_database = asn_path_;
    auto made = MakeGeoIpProcessor(options);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  TempDir dir_{"geoip-test"};
  const std::string city_path_ = dir_.Sub("city.mmdb").string();
  const std::string asn_path_ = dir_.Sub("asn.mmdb").string();
};

RecordBatch MakeBatch() {
  return RecordBatch(StreamName("logs"), ShardId("shardId-000000000000"), ShardUid(1));
}

// Runs `processor` over one record and returns it serialized.
std::string ProcessOne(Processor& processor, const std::string& data,
                       RecordResult* result = nullptr) {
  RecordBatch batch = MakeBatch();
  batch.Add(Offset(1), 0, "pk", data);
  processor.Process(batch);
  PipelineRecord& record = batch.records()[0];
  if (result != nullptr) *result = record.result;
  return std::string(batch.Bytes(record));
}

std::string WithClientIp(const std::string& ip) {
  return R"({"client_ip":")" + ip + R"(","status":200})";
}

// ---- Enrichment ----------------------------------------------------------------------------

TEST_F(GeoIpTest, PublicIpv4GainsCountryCityLocationAndAsn) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(processor->type(), "geoip");
  RecordResult result{};
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("81.2.69.160"), &result),
            R"({"client_ip":"81.2.69.160","status":200,"geo":{"country_iso_code":"GB",)"
            R"("country_name":"United Kingdom","city_name":"London",)"
            R"("location":{"lat":51.5142,"lon":-0.0931},"asn":20712,)"
            R"("as_org":"Andrews & Arnold Ltd"}})");
  EXPECT_EQ(result, RecordResult::kOk);
}

TEST_F(GeoIpTest, PublicIpv6GainsCountryLocationAndAsn) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("2001:218:1:2::3")),
            R"({"client_ip":"2001:218:1:2::3","status":200,"geo":{"country_iso_code":"JP",)"
            R"("country_name":"Japan","location":{"lat":35.68536,"lon":139.75309},)"
            R"("asn":2914,"as_org":"NTT America, Inc."}})");
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("2a02:cf47:ffff::1")),
            R"({"client_ip":"2a02:cf47:ffff::1","status":200,"geo":{"country_iso_code":"NO",)"
            R"("country_name":"Norway","city_name":"Oslo",)"
            R"("location":{"lat":59.9127,"lon":10.7461}}})");
}

TEST_F(GeoIpTest, NonAsciiNamesArriveIntact) {
  auto processor = Make({}, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("89.160.20.127")),
            R"({"client_ip":"89.160.20.127","status":200,"geo":{"country_iso_code":"SE",)"
            R"("country_name":"Sweden","city_name":"Linköping",)"
            R"("location":{"lat":58.4167,"lon":15.6167}}})");
}

TEST_F(GeoIpTest, Ipv4MappedIpv6AddressIsLookedUpAsIpv4) {
  auto processor = Make({}, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, R"({"client_ip":"::ffff:81.2.69.1"})"),
            R"({"client_ip":"::ffff:81.2.69.1","geo":{"country_iso_code":"GB",)"
            R"("country_name":"United Kingdom","city_name":"London",)"
            R"("location":{"lat":51.5142,"lon":-0.0931}}})");
  // ... and is private when the IPv4 address is.
  EXPECT_EQ(ProcessOne(*processor, R"({"client_ip":"::ffff:10.1.2.3"})"),
            R"({"client_ip":"::ffff:10.1.2.3"})");
}

TEST_F(GeoIpTest, ReadsNestedSourceAndWritesNestedTargetKeepingSiblings) {
  GeoIpOptions options;
  options.source_field = "client.address";
  options.target_field = "enrich.geo";
  auto processor = Make(options, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, R"({"client":{"address":"216.160.83.57"},"enrich":{"ua":"x"}})"),
            R"({"client":{"address":"216.160.83.57"},"enrich":{"ua":"x","geo":{)"
            R"("country_iso_code":"US","country_name":"United States"}}})");
}

TEST_F(GeoIpTest, ExistingTargetIsReplaced) {
  auto processor = Make({}, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, R"({"client_ip":"216.160.83.57","geo":"stale"})"),
            R"({"client_ip":"216.160.83.57","geo":{"country_iso_code":"US",)"
            R"("country_name":"United States"}})");
}

TEST_F(GeoIpTest, LanguageSelectsNamesAndAMissingTranslationIsLeftOut) {
  GeoIpOptions options;
  options.language = "de";
  auto processor = Make(options, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("81.2.69.160")),
            R"({"client_ip":"81.2.69.160","status":200,"geo":{"country_iso_code":"GB",)"
            R"("country_name":"Vereinigtes Königreich","city_name":"London",)"
            R"("location":{"lat":51.5142,"lon":-0.0931}}})");
  // Sweden has no German name in the database.
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("89.160.20.112")),
            R"({"client_ip":"89.160.20.112","status":200,"geo":{"country_iso_code":"SE",)"
            R"("location":{"lat":58.4167,"lon":15.6167}}})");
}

TEST_F(GeoIpTest, LocationNeedsBothLatitudeAndLongitude) {
  auto processor = Make({}, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  const std::string out = ProcessOne(*processor, WithClientIp("216.160.83.63"));
  EXPECT_EQ(out.find("location"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("country_iso_code":"US")"), std::string::npos) << out;
}

TEST_F(GeoIpTest, DataOfAnotherShapeIsSkippedNotAnError) {
  auto processor = Make({}, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  RecordResult result{};
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("67.43.156.1"), &result),
            R"({"client_ip":"67.43.156.1","status":200,"geo":{"city_name":"Thimphu"}})");
  EXPECT_EQ(result, RecordResult::kOk);
}

// ---- What gains nothing --------------------------------------------------------------------

TEST_F(GeoIpTest, PrivateLoopbackAndLinkLocalAddressesAreNotLookedUp) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  // Every one of these has data in the test database (see CityNetworks).
  for (const char* ip : {"10.0.0.1", "10.255.255.255", "127.0.0.1", "192.168.1.20", "fd00::1",
                         "fc00::2", "fe80::1", "::ffff:127.0.0.1"}) {
    RecordResult result{};
    EXPECT_EQ(ProcessOne(*processor, WithClientIp(ip), &result), WithClientIp(ip)) << ip;
    EXPECT_EQ(result, RecordResult::kOk) << ip;
  }
}

TEST_F(GeoIpTest, OtherReservedAddressesGainNothing) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  for (const char* ip : {"172.16.0.1", "169.254.1.1", "100.64.0.1", "0.0.0.0", "255.255.255.255",
                         "224.0.0.251", "192.0.2.1", "::1", "::", "2001:db8::1", "ff02::1"}) {
    EXPECT_EQ(ProcessOne(*processor, WithClientIp(ip)), WithClientIp(ip)) << ip;
  }
}

TEST_F(GeoIpTest, AddressInNoNetworkGainsNothing) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  for (const char* ip : {"81.2.70.1", "8.8.8.8", "2001:219::1", "2a03::1"}) {
    RecordResult result{};
    EXPECT_EQ(ProcessOne(*processor, WithClientIp(ip), &result), WithClientIp(ip)) << ip;
    EXPECT_EQ(result, RecordResult::kOk) << ip;
  }
}

TEST_F(GeoIpTest, MissingNonStringOrNonAddressSourceLeavesRecordOkAndUnchanged) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  for (const char* data : {R"({"status":200})", R"({"client_ip":42})", R"({"client_ip":null})",
                           R"({"client_ip":{"v4":"81.2.69.160"}})", R"({"client_ip":"-"})",
                           R"({"client_ip":"example.com"})", R"({"client_ip":"81.2.69.160:443"})",
                           R"({"client_ip":"[2001:218::1]"})", R"({"client_ip":" 81.2.69.160"})",
                           R"({"client_ip":""})"}) {
    RecordResult result{};
    EXPECT_EQ(ProcessOne(*processor, data, &result), data);
    EXPECT_EQ(result, RecordResult::kOk) << data;
  }
}

// ---- Failures and untouched records ------------------------------------------------------

TEST_F(GeoIpTest, DataThatIsNotAJsonObjectFailsWithNotAnObject) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  RecordBatch batch = MakeBatch();
  batch.Add(Offset(1), 0, "pk", "81.2.69.160 - - [10/Oct/2000:13:55:36 -0700]");
  batch.Add(Offset(2), 0, "pk", R"(["81.2.69.160"])");
  batch.Add(Offset(3), 0, "pk", WithClientIp("81.2.69.160"));
  processor->Process(batch);
  auto& records = batch.records();
  EXPECT_EQ(records[0].result, RecordResult::kProcessingFailed);
  EXPECT_EQ(records[0].error_code, "GeoIp.NotAnObject");
  EXPECT_NE(records[0].error_message.find("not JSON"), std::string::npos)
      << records[0].error_message;
  EXPECT_EQ(records[1].result, RecordResult::kProcessingFailed);
  EXPECT_EQ(records[1].error_code, "GeoIp.NotAnObject");
  // One bad record does not stop the batch.
  EXPECT_EQ(records[2].result, RecordResult::kOk);
  EXPECT_NE(batch.Bytes(records[2]).find("\"geo\""), std::string::npos);
}

TEST_F(GeoIpTest, DroppedAndFailedRecordsAreUntouched) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  RecordBatch batch = MakeBatch();
  batch.Add(Offset(1), 0, "pk", WithClientIp("81.2.69.160"));
  batch.Add(Offset(2), 0, "pk", "not json");
  batch.Add(Offset(3), 0, "pk", WithClientIp("81.2.69.160"));
  auto& records = batch.records();
  records[0].result = RecordResult::kDropped;
  RecordBatch::Fail(records[1], "Lambda.FunctionError", "boom");
  RecordBatch::Fail(records[2], "AccessLog.ParseFailed", "bad line");
  processor->Process(batch);
  EXPECT_EQ(records[0].result, RecordResult::kDropped);
  EXPECT_EQ(records[0].json, nullptr);  // not even parsed
  EXPECT_EQ(records[0].data, WithClientIp("81.2.69.160"));
  EXPECT_EQ(records[1].error_code, "Lambda.FunctionError");
  EXPECT_EQ(records[1].error_message, "boom");
  EXPECT_EQ(records[2].error_code, "AccessLog.ParseFailed");
  EXPECT_EQ(records[2].json, nullptr);
  EXPECT_EQ(records[2].data, WithClientIp("81.2.69.160"));
}

// ---- ASN -------------------------------------------------------------------------------------

TEST_F(GeoIpTest, AsnDatabaseAloneMatchingAddsOnlyAsn) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("1.130.2.3")),
            R"({"client_ip":"1.130.2.3","status":200,"geo":{"asn":1221,"as_org":"Telstra"}})");
}

TEST_F(GeoIpTest, WithoutAsnDatabaseAsnComesFromTheMainDatabase) {
  const std::string combined = dir_.Sub("combined.mmdb").string();
  ASSERT_TRUE(WriteMmdb(combined, "DBIP-City-Lite-ASN",
                        {{"81.2.69.0/24",
                          R"({"country":{"iso_code":"GB"},"autonomous_system_number":65001,)"
                          R"("autonomous_system_organization":"Main Org"})"}})
                  .ok());
  GeoIpOptions options;
  options.database = combined;
  auto processor = Make(options, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  EXPECT_EQ(ProcessOne(*processor, WithClientIp("81.2.69.9")),
            R"({"client_ip":"81.2.69.9","status":200,"geo":{"country_iso_code":"GB",)"
            R"("asn":65001,"as_org":"Main Org"}})");

  // With an ASN database, its answer wins.
  options.asn_database = asn_path_;
  auto both = Make(options);
  ASSERT_NE(both, nullptr);
  EXPECT_EQ(ProcessOne(*both, WithClientIp("81.2.69.9")),
            R"({"client_ip":"81.2.69.9","status":200,"geo":{"country_iso_code":"GB",)"
            R"("asn":20712,"as_org":"Andrews & Arnold Ltd"}})");
}

// ---- Factory ---------------------------------------------------------------------------------

TEST_F(GeoIpTest, MissingDatabaseFailsTheFactoryNamingTheFile) {
  GeoIpOptions options;
  options.database = dir_.Sub("absent.mmdb").string();
  auto made = MakeGeoIpProcessor(options);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find(options.database), std::string::npos)
      << made.status().message();
  EXPECT_NE(made.status().message().find(MMDB_strerror(MMDB_FILE_OPEN_ERROR)), std::string::npos)
      << made.status().message();
}

TEST_F(GeoIpTest, CorruptDatabaseFailsTheFactoryNamingTheFile) {
  const std::string corrupt = dir_.Sub("corrupt.mmdb").string();
  {
    std::ofstream out(corrupt, std::ios::binary);
    out << std::string(4096, 'x');
  }
  GeoIpOptions options;
  options.database = corrupt;
  auto made = MakeGeoIpProcessor(options);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find(corrupt), std::string::npos) << made.status().message();
  EXPECT_NE(made.status().message().find(MMDB_strerror(MMDB_INVALID_METADATA_ERROR)),
            std::string::npos)
      << made.status().message();
}

TEST_F(GeoIpTest, UnopenableAsnDatabaseFailsTheFactoryNamingTheFile) {
  GeoIpOptions options;
  options.database = city_path_;
  options.asn_database = dir_.Sub("no-asn.mmdb").string();
  auto made = MakeGeoIpProcessor(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find(options.asn_database), std::string::npos)
      << made.status().message();
}

TEST_F(GeoIpTest, EmptyOptionsAreRejected) {
  EXPECT_EQ(MakeGeoIpProcessor({}).status().code(), StatusCode::kInvalidArgument);
  GeoIpOptions options;
  options.database = city_path_;
  options.source_field.clear();
  EXPECT_EQ(MakeGeoIpProcessor(options).status().code(), StatusCode::kInvalidArgument);
  options.source_field = "ip";
  options.target_field.clear();
  EXPECT_EQ(MakeGeoIpProcessor(options).status().code(), StatusCode::kInvalidArgument);
  options.target_field = "geo";
  options.language.clear();
  EXPECT_EQ(MakeGeoIpProcessor(options).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GeoIpTest, CorruptSearchTreeFailsTheRecordWithLookupFailed) {
  // Point the root's left record (every IPv4 address goes left first) far past the data.
  const std::string path = dir_.Sub("bad-tree.mmdb").string();
  ASSERT_TRUE(WriteMmdb(path, "GeoLite2-City", CityNetworks()).ok());
  {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(0);
    file.write("\xFF\xFF\xFF", 3);  // 24-bit records
    ASSERT_TRUE(file.good());
  }
  GeoIpOptions options;
  options.database = path;
  auto processor = Make(options, /*with_asn=*/false);
  ASSERT_NE(processor, nullptr);
  RecordBatch batch = MakeBatch();
  batch.Add(Offset(1), 0, "pk", WithClientIp("81.2.69.160"));
  processor->Process(batch);
  const PipelineRecord& record = batch.records()[0];
  EXPECT_EQ(record.result, RecordResult::kProcessingFailed);
  EXPECT_EQ(record.error_code, "GeoIp.LookupFailed");
  EXPECT_NE(record.error_message.find(path), std::string::npos) << record.error_message;
}

// ---- Concurrency -----------------------------------------------------------------------------

TEST_F(GeoIpTest, OneProcessorServesConcurrentBatches) {
  auto processor = Make();
  ASSERT_NE(processor, nullptr);
  constexpr int kThreads = 4;
  constexpr int kRecords = 300;
  const std::string ips[] = {"81.2.69.160", "2001:218::1", "10.0.0.1", "8.8.8.8", "1.128.0.1"};
  std::vector<std::string> expected;
  for (const std::string& ip : ips)
    expected.push_back(ProcessOne(*processor, WithClientIp(ip)));
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RecordBatch batch = MakeBatch();
      for (int i = 0; i < kRecords; ++i) {
        batch.Add(Offset(i + 1), 0, "pk", WithClientIp(ips[(i + t) % std::size(ips)]));
      }
      processor->Process(batch);
      for (int i = 0; i < kRecords; ++i) {
        if (batch.Bytes(batch.records()[i]) != expected[(i + t) % std::size(ips)]) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// ---- Address classification --------------------------------------------------------------

TEST(GeoIpAddressTest, NonPublicRangesAreRecognized) {
  for (const char* ip : {"0.1.2.3",
                         "10.1.2.3",
                         "100.64.0.1",
                         "100.127.255.255",
                         "127.0.0.1",
                         "169.254.10.10",
                         "172.16.0.1",
                         "172.31.255.255",
                         "192.0.0.8",
                         "192.0.2.1",
                         "192.168.1.1",
                         "198.18.0.1",
                         "198.19.255.255",
                         "198.51.100.7",
                         "203.0.113.9",
                         "224.0.0.1",
                         "239.255.255.250",
                         "240.0.0.1",
                         "255.255.255.255",
                         "::",
                         "::1",
                         "::8.8.8.8",
                         "64:ff9b:1::1",
                         "100::1",
                         "2001:2::1",
                         "2001:db8::1",
                         "3fff::1",
                         "fc00::1",
                         "fd12:3456::1",
                         "fe80::1",
                         "febf::1",
                         "fec0::1",
                         "ff02::1",
                         "::ffff:10.0.0.1",
                         "::ffff:127.0.0.1"}) {
    geoip::IpAddress address;
    ASSERT_TRUE(geoip::ParseIpAddress(ip, &address)) << ip;
    EXPECT_TRUE(geoip::IsNonPublicAddress(address)) << ip;
  }
}

TEST(GeoIpAddressTest, PublicAddressesNextToReservedRangesArePublic) {
  for (const char* ip : {"1.1.1.1",         "9.255.255.255",
                         "11.0.0.0",        "100.63.255.255",
                         "100.128.0.0",     "126.255.255.255",
                         "128.0.0.0",       "169.253.255.255",
                         "169.255.0.0",     "172.15.255.255",
                         "172.32.0.0",      "192.0.1.1",
                         "192.0.3.1",       "192.167.255.255",
                         "192.169.0.0",     "198.17.255.255",
                         "198.20.0.0",      "223.255.255.255",
                         "::1:0:0:1",       "64:ff9b::808:808",
                         "2001:db9::1",     "2001:4860:4860::8888",
                         "2002:808:808::1", "2a00:1450::1",
                         "4000::1",         "fbff::1",
                         "fe00::1",         "::ffff:81.2.69.160"}) {
    geoip::IpAddress address;
    ASSERT_TRUE(geoip::ParseIpAddress(ip, &address)) << ip;
    EXPECT_FALSE(geoip::IsNonPublicAddress(address)) << ip;
  }
}

TEST(GeoIpAddressTest, Ipv4MappedBecomesIpv4AndOtherIpv6StaysIpv6) {
  geoip::IpAddress address;
  ASSERT_TRUE(geoip::ParseIpAddress("::ffff:81.2.69.160", &address));
  EXPECT_EQ(address.sa.sa_family, AF_INET);
  EXPECT_EQ(ntohl(address.v4.sin_addr.s_addr), (81u << 24) | (2u << 16) | (69u << 8) | 160u);
  ASSERT_TRUE(geoip::ParseIpAddress("::ffff:5102:45a0", &address));
  EXPECT_EQ(address.sa.sa_family, AF_INET);
  ASSERT_TRUE(geoip::ParseIpAddress("2001:218::1", &address));
  EXPECT_EQ(address.sa.sa_family, AF_INET6);
  ASSERT_TRUE(geoip::ParseIpAddress("81.2.69.160", &address));
  EXPECT_EQ(address.sa.sa_family, AF_INET);
}

TEST(GeoIpAddressTest, TextThatIsNotABareAddressIsRejected) {
  const std::string longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";  // 45 chars
  geoip::IpAddress address;
  EXPECT_TRUE(geoip::ParseIpAddress(longest, &address));
  for (const std::string& text :
       {std::string(), std::string("-"), std::string("localhost"), std::string("1.2.3"),
        std::string("256.1.1.1"), std::string("1.2.3.4:80"), std::string("[::1]"),
        std::string("fe80::1%eth0"), std::string(" 1.2.3.4"), std::string("1.2.3.4 "),
        std::string("1.2.3.4\0", 8), std::string("::ffff:1.2.3.4.5"), longest + "0",
        std::string(1000, '1')}) {
    EXPECT_FALSE(geoip::ParseIpAddress(text, &address)) << text;
  }
}

}  // namespace
}  // namespace tideline::pipeline
