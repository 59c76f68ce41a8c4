// The test MaxMind DB writer, checked against libmaxminddb itself.
#include <gtest/gtest.h>
#include <maxminddb.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "geoip_fixtures.h"
#include "mmdb/mmdb_writer.h"
#include "test_util/temp_dir.h"

namespace tideline::pipeline {
namespace {

using mmdb::MmdbNetwork;
using mmdb::WriteMmdb;
using testing::TempDir;

// ---- The MaxMind DB writer, checked with libmaxminddb --------------------------------------

// A database opened with libmaxminddb for the length of a test.
class OpenedMmdb {
 public:
  explicit OpenedMmdb(const std::string& path)
      : status_(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb_)) {}
  ~OpenedMmdb() {
    if (status_ == MMDB_SUCCESS) MMDB_close(&mmdb_);
  }
  OpenedMmdb(const OpenedMmdb&) = delete;
  OpenedMmdb& operator=(const OpenedMmdb&) = delete;

  int status() const { return status_; }
  const MMDB_s& mmdb() const { return mmdb_; }

  MMDB_lookup_result_s Lookup(const std::string& ip) const {
    int gai_error = 0;
    int mmdb_error = 0;
    MMDB_lookup_result_s result = MMDB_lookup_string(&mmdb_, ip.c_str(), &gai_error, &mmdb_error);
    EXPECT_EQ(gai_error, 0) << ip;
    EXPECT_EQ(mmdb_error, MMDB_SUCCESS) << ip << ": " << MMDB_strerror(mmdb_error);
    return result;
  }

 private:
  MMDB_s mmdb_{};
  int status_;
};

// The value at `path` in `entry`; has_data is false when absent.
MMDB_entry_data_s Get(MMDB_entry_s entry, std::vector<const char*> path) {
  path.push_back(nullptr);
  MMDB_entry_data_s data{};
  const int status = MMDB_aget_value(&entry, &data, path.data());
  EXPECT_EQ(status, MMDB_SUCCESS) << MMDB_strerror(status);
  return data;
}

std::string GetString(MMDB_entry_s entry, std::vector<const char*> path) {
  MMDB_entry_data_s data = Get(entry, std::move(path));
  if (!data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING) return "<not a string>";
  return std::string(data.utf8_string, data.data_size);
}

class MmdbWriterTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.Sub(name).string(); }
  TempDir dir_{"mmdb-writer-test"};
};

TEST_F(MmdbWriterTest, MetadataHasEveryRequiredFieldWithItsType) {
  const int64_t before = std::time(nullptr);
  ASSERT_TRUE(WriteMmdb(Path("city.mmdb"), "GeoLite2-City", CityNetworks()).ok());
  const int64_t after = std::time(nullptr);
  OpenedMmdb db(Path("city.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS) << MMDB_strerror(db.status());
  const MMDB_metadata_s& meta = db.mmdb().metadata;
  EXPECT_GT(meta.node_count, 96u);  // at least the path down to ::/96
  EXPECT_EQ(meta.record_size, 24);
  EXPECT_EQ(meta.ip_version, 6);
  EXPECT_STREQ(meta.database_type, "GeoLite2-City");
  ASSERT_EQ(meta.languages.count, 2u);  // the keys of the "names" maps
  EXPECT_STREQ(meta.languages.names[0], "de");
  EXPECT_STREQ(meta.languages.names[1], "en");
  EXPECT_EQ(meta.binary_format_major_version, 2);
  EXPECT_EQ(meta.binary_format_minor_version, 0);
  EXPECT_GE(static_cast<int64_t>(meta.build_epoch), before);
  EXPECT_LE(static_cast<int64_t>(meta.build_epoch), after);
  ASSERT_EQ(meta.description.count, 1u);
  EXPECT_STREQ(meta.description.descriptions[0]->language, "en");
  EXPECT_NE(std::string(meta.description.descriptions[0]->description), "");
}

TEST_F(MmdbWriterTest, EveryNetworkIsFoundFromFirstToLastAddressWithItsPrefix) {
  ASSERT_TRUE(WriteMmdb(Path("city.mmdb"), "GeoLite2-City", CityNetworks()).ok());
  OpenedMmdb db(Path("city.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  struct Case {
    const char* first;
    const char* last;
    int netmask;  // libmaxminddb reports IPv4 prefixes in the IPv6 tree: 96 + n
    const char* iso_code;
  };
  for (const Case& c : {Case{"81.2.69.0", "81.2.69.255", 96 + 24, "GB"},
                        Case{"89.160.20.112", "89.160.20.127", 96 + 28, "SE"},
                        Case{"216.160.83.56", "216.160.83.63", 96 + 29, "US"},
                        Case{"10.0.0.0", "10.255.255.255", 96 + 8, "ZZ"},
                        Case{"2001:218::", "2001:218:ffff:ffff:ffff:ffff:ffff:ffff", 32, "JP"},
                        Case{"2a02:cf40::", "2a02:cf47:ffff:ffff:ffff:ffff:ffff:ffff", 29, "NO"},
                        Case{"fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 7, "ZZ"}}) {
    for (const char* ip : {c.first, c.last}) {
      MMDB_lookup_result_s result = db.Lookup(ip);
      ASSERT_TRUE(result.found_entry) << ip;
      EXPECT_EQ(result.netmask, c.netmask) << ip;
      EXPECT_EQ(GetString(result.entry, {"country", "iso_code"}), c.iso_code) << ip;
    }
  }
}

TEST_F(MmdbWriterTest, AddressesJustOutsideEachNetworkMiss) {
  ASSERT_TRUE(WriteMmdb(Path("city.mmdb"), "GeoLite2-City", CityNetworks()).ok());
  OpenedMmdb db(Path("city.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  for (const char* ip :
       {"81.2.68.255", "81.2.70.0", "89.160.20.111", "89.160.20.128", "9.255.255.255", "11.0.0.0",
        "2001:217:ffff::1", "2001:219::", "2a02:cf48::", "fbff::1", "fe00::", "0.0.0.0", "::2"}) {
    EXPECT_FALSE(db.Lookup(ip).found_entry) << ip;
  }
}

TEST_F(MmdbWriterTest, EveryJsonTypeRoundTrips) {
  // Sizes 100, 300 and 70,000 need the 1-, 2- and 3-byte size extensions of the control byte.
  std::string big_map;
  for (int i = 0; i < 300; ++i) {
    big_map += (i == 0 ? "" : ",") + ("\"k" + std::to_string(i) + "\":" + std::to_string(i));
  }
  const std::string json =
      R"({"s":"text","empty":"","mid":")" + std::string(100, 'm') + R"(","long":")" +
      std::string(70'000, 'z') +
      R"(","d":-12.5,"zero":0,"u32":4294967295,"u64":4294967296,"t":true,"f":false,)"
      R"("a":[1,"two",{"three":3.5}],"m":{"n":{"o":"deep"}},"big_map":{)" +
      big_map + "}}";
  ASSERT_TRUE(WriteMmdb(Path("types.mmdb"), "Types", {{"1.2.3.0/24", json}}).ok());
  OpenedMmdb db(Path("types.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  MMDB_lookup_result_s result = db.Lookup("1.2.3.4");
  ASSERT_TRUE(result.found_entry);
  const MMDB_entry_s e = result.entry;
  EXPECT_EQ(GetString(e, {"s"}), "text");
  EXPECT_EQ(GetString(e, {"empty"}), "");
  EXPECT_EQ(GetString(e, {"mid"}), std::string(100, 'm'));
  EXPECT_EQ(GetString(e, {"long"}), std::string(70'000, 'z'));
  MMDB_entry_data_s d = Get(e, {"d"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_DOUBLE);
  EXPECT_EQ(d.double_value, -12.5);
  d = Get(e, {"zero"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_UINT32);
  EXPECT_EQ(d.uint32, 0u);
  d = Get(e, {"u32"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_UINT32);
  EXPECT_EQ(d.uint32, 4294967295u);
  d = Get(e, {"u64"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_UINT64);
  EXPECT_EQ(d.uint64, 4294967296u);
  d = Get(e, {"t"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_BOOLEAN);
  EXPECT_TRUE(d.boolean);
  d = Get(e, {"f"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_BOOLEAN);
  EXPECT_FALSE(d.boolean);
  d = Get(e, {"a"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_ARRAY);
  EXPECT_EQ(d.data_size, 3u);
  EXPECT_EQ(GetString(e, {"a", "1"}), "two");
  d = Get(e, {"a", "2", "three"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_DOUBLE);
  EXPECT_EQ(d.double_value, 3.5);
  EXPECT_EQ(GetString(e, {"m", "n", "o"}), "deep");
  d = Get(e, {"big_map"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_MAP);
  EXPECT_EQ(d.data_size, 300u);
  d = Get(e, {"big_map", "k299"});
  EXPECT_EQ(d.type, MMDB_DATA_TYPE_UINT32);
  EXPECT_EQ(d.uint32, 299u);
  // libmaxminddb reports a missing key as a path that does not match the data.
  const char* const absent[] = {"absent", nullptr};
  MMDB_entry_s entry = e;
  EXPECT_EQ(MMDB_aget_value(&entry, &d, absent), MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR);
}

TEST_F(MmdbWriterTest, Ipv4MappedAddressesReachIpv4Data) {
  ASSERT_TRUE(WriteMmdb(Path("city.mmdb"), "GeoLite2-City", CityNetworks()).ok());
  OpenedMmdb db(Path("city.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  MMDB_lookup_result_s result = db.Lookup("::ffff:81.2.69.160");
  ASSERT_TRUE(result.found_entry);
  EXPECT_EQ(GetString(result.entry, {"country", "iso_code"}), "GB");
  EXPECT_EQ(result.netmask, 96 + 24);
  EXPECT_FALSE(db.Lookup("::ffff:81.2.70.1").found_entry);
}

TEST_F(MmdbWriterTest, Ipv6OnlyDatabaseFindsNoIpv4Address) {
  ASSERT_TRUE(WriteMmdb(Path("v6.mmdb"), "V6", {{"2001:218::/32", R"({"x":1})"}}).ok());
  OpenedMmdb db(Path("v6.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  EXPECT_TRUE(db.Lookup("2001:218::1").found_entry);
  EXPECT_FALSE(db.Lookup("81.2.69.160").found_entry);
  EXPECT_FALSE(db.Lookup("::ffff:81.2.69.160").found_entry);
}

TEST_F(MmdbWriterTest, EmptyDatabaseOpensAndFindsNothing) {
  ASSERT_TRUE(WriteMmdb(Path("empty.mmdb"), "Empty", {}).ok());
  OpenedMmdb db(Path("empty.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS) << MMDB_strerror(db.status());
  EXPECT_EQ(db.mmdb().metadata.node_count, 1u);
  EXPECT_EQ(db.mmdb().metadata.languages.count, 0u);
  EXPECT_FALSE(db.Lookup("81.2.69.160").found_entry);
  EXPECT_FALSE(db.Lookup("2001:218::1").found_entry);
}

TEST_F(MmdbWriterTest, ZeroLengthPrefixCoversEveryAddress) {
  ASSERT_TRUE(WriteMmdb(Path("all.mmdb"), "All", {{"::/0", R"({"x":"all"})"}}).ok());
  OpenedMmdb db(Path("all.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  for (const char* ip : {"0.0.0.0", "81.2.69.160", "255.255.255.255", "::", "8000::1",
                         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    MMDB_lookup_result_s result = db.Lookup(ip);
    ASSERT_TRUE(result.found_entry) << ip;
    EXPECT_EQ(GetString(result.entry, {"x"}), "all") << ip;
  }
}

TEST_F(MmdbWriterTest, IdenticalRecordsAreStoredOnce) {
  const std::string record = R"({"country":{"iso_code":"GB","names":{"en":"United Kingdom"}}})";
  ASSERT_TRUE(
      WriteMmdb(Path("two.mmdb"), "T", {{"81.2.69.0/24", record}, {"81.2.70.0/24", record}}).ok());
  OpenedMmdb db(Path("two.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS);
  MMDB_lookup_result_s a = db.Lookup("81.2.69.1");
  MMDB_lookup_result_s b = db.Lookup("81.2.70.1");
  ASSERT_TRUE(a.found_entry);
  ASSERT_TRUE(b.found_entry);
  EXPECT_EQ(a.entry.offset, b.entry.offset);
}

TEST_F(MmdbWriterTest, DataBeyond16MiBSwitchesTo28BitRecords) {
  // Two ~8.5 MB records push the last two (siblings under one node) past 2^24, so both the
  // left and the right record of that node use their top 4 bits.
  const std::string big(8'500'000, 'b');
  std::vector<MmdbNetwork> networks = {
      {"1.0.0.0/24", R"({"x":"a)" + big + R"("})"},
      {"1.0.1.0/24", R"({"x":"b)" + big + R"("})"},
      {"1.0.2.0/25", R"({"x":"left"})"},
      {"1.0.2.128/25", R"({"x":"right"})"},
  };
  ASSERT_TRUE(WriteMmdb(Path("big.mmdb"), "Big", networks).ok());
  OpenedMmdb db(Path("big.mmdb"));
  ASSERT_EQ(db.status(), MMDB_SUCCESS) << MMDB_strerror(db.status());
  EXPECT_EQ(db.mmdb().metadata.record_size, 28);
  MMDB_lookup_result_s result = db.Lookup("1.0.2.1");
  ASSERT_TRUE(result.found_entry);
  EXPECT_GT(result.entry.offset, 1u << 24);
  EXPECT_EQ(GetString(result.entry, {"x"}), "left");
  result = db.Lookup("1.0.2.200");
  ASSERT_TRUE(result.found_entry);
  EXPECT_EQ(GetString(result.entry, {"x"}), "right");
  result = db.Lookup("1.0.1.9");
  ASSERT_TRUE(result.found_entry);
  EXPECT_EQ(GetString(result.entry, {"x"}).substr(0, 2), "bb");
  EXPECT_FALSE(db.Lookup("1.0.3.0").found_entry);
}

TEST_F(MmdbWriterTest, BadCidrIsInvalidArgumentNamingIt) {
  for (const char* cidr :
       {"81.2.69.0", "81.2.69.0/", "81.2.69.0/33", "81.2.69.0/-1", "81.2.69.0/2x", "81.2.69/24",
        "2001:db8::/129", "2001:zz::/32", "81.2.69.1/24", "2001:db8::1/64", "/24", ""}) {
    Status status = WriteMmdb(Path("bad.mmdb"), "T", {{cidr, R"({"x":1})"}});
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << cidr;
    EXPECT_NE(status.message().find(std::string("\"") + cidr + "\""), std::string::npos)
        << status.message();
  }
}

TEST_F(MmdbWriterTest, BadJsonOrUnrepresentableDataIsInvalidArgument) {
  for (const char* json : {"", "{", R"({"x":1} trailing)", R"(["not","an","object"])", "42",
                           R"({"x":null})", R"({"a":[1,null]})"}) {
    Status status = WriteMmdb(Path("bad.mmdb"), "T", {{"81.2.69.0/24", json}});
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << json;
    EXPECT_NE(status.message().find("81.2.69.0/24"), std::string::npos) << status.message();
  }
}

TEST_F(MmdbWriterTest, OverlappingNetworksAreInvalidArgumentInEitherOrder) {
  const MmdbNetwork wide{"81.2.0.0/16", R"({"x":1})"};
  const MmdbNetwork narrow{"81.2.69.0/24", R"({"x":2})"};
  EXPECT_EQ(WriteMmdb(Path("o.mmdb"), "T", {wide, narrow}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteMmdb(Path("o.mmdb"), "T", {narrow, wide}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteMmdb(Path("o.mmdb"), "T", {narrow, narrow}).code(), StatusCode::kInvalidArgument);
  // An IPv4 network is an IPv6 network under ::/96.
  EXPECT_EQ(WriteMmdb(Path("o.mmdb"), "T", {{"::/64", R"({"x":1})"}, narrow}).code(),
            StatusCode::kInvalidArgument);
  // Adjacent networks do not overlap.
  EXPECT_TRUE(WriteMmdb(Path("o.mmdb"), "T", {narrow, {"81.2.70.0/24", R"({"x":3})"}}).ok());
}

TEST_F(MmdbWriterTest, UnwritablePathIsIOError) {
  Status status = WriteMmdb(Path("no-such-dir/x.mmdb"), "T", {{"81.2.69.0/24", R"({"x":1})"}});
  EXPECT_EQ(status.code(), StatusCode::kIOError);
  EXPECT_NE(status.message().find("no-such-dir/x.mmdb"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace tideline::pipeline
