// Sequence numbers, hash keys, shard ranges, key and value encodings.
#include <gtest/gtest.h>

#include <random>

#include "keys.h"
#include "record_codec.h"
#include "storage/hash_key.h"
#include "storage/sequence_number.h"
#include "tideline.pb.h"

namespace tideline {
namespace {

TEST(SequenceNumber, RoundTripsAndIsFortyDigits) {
  for (SequencePosition pos : {SequencePosition{0, 0}, SequencePosition{1, 1},
                               SequencePosition{5, 7}, SequencePosition{UINT64_MAX, UINT64_MAX}}) {
    const SequenceNumber s = EncodeSequenceNumber(pos);
    EXPECT_EQ(s.get().size(), kSequenceNumberDigits);
    EXPECT_NE(s.get()[0], '0');
    auto back = DecodeSequenceNumber(s.get());
    ASSERT_TRUE(back.has_value()) << s.get();
    EXPECT_EQ(*back, pos);
  }
  // 10^39 + 5 * 2^64 + 7, computed with Python.
  EXPECT_EQ(EncodeSequenceNumber({5, 7}).get(), "1000000000000000000092233720368547758087");
}

TEST(SequenceNumber, StringOrderEqualsNumericOrderForRandomPairs) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    SequencePosition a{rng() % 4 == 0 ? rng() : rng() % 16, rng() % 3 == 0 ? rng() : rng() % 100};
    SequencePosition b{rng() % 4 == 0 ? rng() : rng() % 16, rng() % 3 == 0 ? rng() : rng() % 100};
    const auto sa = EncodeSequenceNumber(a).get();
    const auto sb = EncodeSequenceNumber(b).get();
    EXPECT_EQ(a < b, sa < sb) << sa << " " << sb;
    EXPECT_EQ(a == b, sa == sb);
  }
}

TEST(SequenceNumber, RejectsMalformed) {
  const std::string good = EncodeSequenceNumber({3, 9}).get();
  EXPECT_FALSE(DecodeSequenceNumber(""));
  EXPECT_FALSE(DecodeSequenceNumber("0"));
  EXPECT_FALSE(DecodeSequenceNumber("12345"));
  EXPECT_FALSE(DecodeSequenceNumber(good + "0"));
  EXPECT_FALSE(DecodeSequenceNumber(good.substr(1)));
  std::string letter = good;
  letter[20] = 'x';
  EXPECT_FALSE(DecodeSequenceNumber(letter));
  std::string leading_two = good;
  leading_two[0] = '2';  // 2 * 10^39 + ... is past 10^39 + 2^128 - 1
  EXPECT_FALSE(DecodeSequenceNumber(leading_two));
  // 10^39 + 2^128 is one past the largest encodable value.
  EXPECT_FALSE(DecodeSequenceNumber("1340282366920938463463374607431768211456"));
  EXPECT_TRUE(DecodeSequenceNumber("1340282366920938463463374607431768211455"));
  EXPECT_FALSE(DecodeSequenceNumber(std::string(40, '9')));
  EXPECT_FALSE(DecodeSequenceNumber(" " + good.substr(1)));
  EXPECT_FALSE(DecodeSequenceNumber("-" + good.substr(1)));
}

// Expected values from Python: int(hashlib.md5(key).hexdigest(), 16).
TEST(SequenceNumber, ShardUidAndOffsetAreTheOnlyWayInAndOut) {
  const SequenceNumber seq = SequenceNumberOf(ShardUid(7), Offset(42));
  EXPECT_EQ(seq, EncodeSequenceNumber({7, 42}));
  EXPECT_EQ(OffsetInShard(ShardUid(7), seq.get()), Offset(42));
  EXPECT_EQ(OffsetInShard(ShardUid(8), seq.get()), std::nullopt);  // another shard's
  EXPECT_EQ(OffsetInShard(ShardUid(7), "42"), std::nullopt);       // not one of ours
  EXPECT_EQ(OffsetInShard(ShardUid(7), ""), std::nullopt);
}

TEST(HashKey, Md5MatchesKnownVectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", "281949768489412648962353822266799178366"},
      {"a", "16955237001963240173058271559858726497"},
      {"abc", "191415658344158766168031473277922803570"},
      {"partition-key-1", "33365116028791453877729010807000998774"},
      {"user-42", "157107139746365290205026809710278036035"},
  };
  for (const auto& [key, expected] : vectors) {
    EXPECT_EQ(HashKeyToDecimal(HashKeyFromPartitionKey(key)), expected) << key;
  }
}

TEST(HashKey, ParsesStrictDecimal) {
  EXPECT_EQ(ParseHashKey("0"), HashKey{0});
  EXPECT_EQ(ParseHashKey("340282366920938463463374607431768211455"), kMaxHashKey);
  EXPECT_FALSE(ParseHashKey("340282366920938463463374607431768211456"));
  EXPECT_FALSE(ParseHashKey(""));
  EXPECT_FALSE(ParseHashKey("01"));
  EXPECT_FALSE(ParseHashKey("-1"));
  EXPECT_FALSE(ParseHashKey("+1"));
  EXPECT_FALSE(ParseHashKey(" 1"));
  EXPECT_FALSE(ParseHashKey("1e5"));
  EXPECT_FALSE(ParseHashKey(std::string(40, '1')));
  EXPECT_EQ(HashKeyToDecimal(*ParseHashKey("123456789012345678901234567890")),
            "123456789012345678901234567890");
}

TEST(HashKey, BytesRoundTrip) {
  const HashKey k = HashKeyFromPartitionKey("abc");
  EXPECT_EQ(HashKeyToBytes(k).size(), 16u);
  EXPECT_EQ(HashKeyFromBytes(HashKeyToBytes(k)), k);
  EXPECT_FALSE(HashKeyFromBytes("short"));
}

TEST(EvenHashKeyRanges, OneShardCoversEverything) {
  auto r = EvenHashKeyRanges(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].start, HashKey{0});
  EXPECT_EQ(r[0].end, kMaxHashKey);
}

TEST(EvenHashKeyRanges, ThreeShardsMatchAws) {
  // floor(2^128 / 3) = 113427455640312821154458202477256070485 (Python).
  auto r = EvenHashKeyRanges(3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(HashKeyToDecimal(r[1].start), "113427455640312821154458202477256070485");
  EXPECT_EQ(HashKeyToDecimal(r[0].end), "113427455640312821154458202477256070484");
  EXPECT_EQ(HashKeyToDecimal(r[2].start), "226854911280625642308916404954512140970");
  EXPECT_EQ(r[2].end, kMaxHashKey);
}

TEST(EvenHashKeyRanges, FourShardsMatchAws) {
  // 2^128 / 4 = 85070591730234615865843651857942052864 (Python).
  auto r = EvenHashKeyRanges(4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].start, HashKey{0});
  EXPECT_EQ(HashKeyToDecimal(r[1].start), "85070591730234615865843651857942052864");
  EXPECT_EQ(HashKeyToDecimal(r[3].start), "255211775190703847597530955573826158592");
  for (size_t i = 0; i + 1 < r.size(); ++i)
    EXPECT_EQ(r[i].end + 1, r[i + 1].start);
  EXPECT_EQ(r[3].end, kMaxHashKey);
}

TEST(Keys, RecordKeysSortByShardThenOffset) {
  EXPECT_LT(storage::keys::RecordKey(1, UINT64_MAX), storage::keys::RecordKey(2, 0));
  EXPECT_LT(storage::keys::RecordKey(2, 255), storage::keys::RecordKey(2, 256));
  auto parts = storage::keys::DecodeRecordKey(storage::keys::RecordKey(9, 300));
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->shard_uid, 9u);
  EXPECT_EQ(parts->offset, 300u);
  EXPECT_EQ(storage::keys::ShardIdForIndex(42), "shardId-000000000042");
  EXPECT_EQ(storage::keys::ShardIndexFromId("shardId-000000000042"), 42u);
  EXPECT_FALSE(storage::keys::ShardIndexFromId("shardId-42"));
  EXPECT_FALSE(storage::keys::ShardIndexFromId("shardId-00000000004x"));
}

TEST(RecordCodec, DecodesWhatProtobufEncodes) {
  proto::Record r;
  r.set_data(std::string("bin\0ary", 7));
  r.set_partition_key("pk");
  r.set_explicit_hash_key("12345");
  r.set_arrival_ms(1'700'000'000'123);
  const std::string wire = r.SerializeAsString();
  storage::RecordFields f;
  ASSERT_TRUE(storage::DecodeRecordValue(wire, &f));
  EXPECT_EQ(f.data, r.data());
  EXPECT_EQ(f.partition_key, "pk");
  EXPECT_EQ(f.explicit_hash_key, "12345");
  EXPECT_EQ(f.arrival_ms, 1'700'000'000'123);
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    storage::RecordFields g;
    // Every strict prefix either fails or decodes to something other than the full record.
    if (storage::DecodeRecordValue(wire.substr(0, cut), &g)) {
      EXPECT_NE(g.arrival_ms, f.arrival_ms);
    }
  }
  EXPECT_FALSE(storage::DecodeRecordValue("\xff\xff\xff", &f));
}

TEST(RecordCodec, EncoderMatchesProtobufByteForByte) {
  const std::string big(300, 'x');  // lengths above 127 take two varint bytes
  const std::string data_cases[] = {"", "a", std::string("bin\0ary", 7), big};
  const std::string key_cases[] = {"", "pk", big};
  const std::string ehk_cases[] = {"", "340282366920938463463374607431768211455"};
  const int64_t arrival_cases[] = {0, 1, 1'700'000'000'123, -5};
  std::string prefix, suffix;
  for (const auto& data : data_cases) {
    for (const auto& key : key_cases) {
      for (const auto& ehk : ehk_cases) {
        for (int64_t arrival : arrival_cases) {
          proto::Record r;
          r.set_data(data);
          r.set_partition_key(key);
          r.set_explicit_hash_key(ehk);
          r.set_arrival_ms(arrival);
          storage::EncodeRecordValue({data, key, ehk, arrival}, &prefix, &suffix);
          const std::string ours = prefix + data + suffix;
          ASSERT_EQ(ours, r.SerializeAsString())
              << "data " << data.size() << " key " << key.size() << " arrival " << arrival;
          storage::RecordFields back;
          ASSERT_TRUE(storage::DecodeRecordValue(ours, &back));
          EXPECT_EQ(back.data, data);
          EXPECT_EQ(back.partition_key, key);
          EXPECT_EQ(back.explicit_hash_key, ehk);
          EXPECT_EQ(back.arrival_ms, arrival);
        }
      }
    }
  }
}

}  // namespace
}  // namespace tideline
