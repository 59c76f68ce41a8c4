// What the CBOR protocol adds to a Kinesis call, against the same call in JSON 1.1:
//   PutRecords (500 records): the JSON path parses the body in place and base64-decodes each
//   record's data, then writes the response; the CBOR path first decodes the CBOR body into that
//   JSON (DecodeRequest) and last encodes the response as CBOR (EncodeResponse).
//   GetRecords (500 records): the CBOR path encodes the handler's JSON answer.
// Record data is random bytes (args: bytes per record). Run: cbor_codec_bench
#include <cstdint>
#include <random>
#include <string>

#include <benchmark/benchmark.h>
#include <cbor.h>

#include "cbor_codec.h"
#include "common/base64.h"
#include "json_util.h"

namespace tideline::server {
namespace {

constexpr int kRecords = 500;

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

struct PutRecordsBodies {
  std::string json;
  std::string cbor;
  std::string response_json;
  size_t data_bytes = 0;
};

// The same PutRecords request in both protocols (the CBOR one as the Java SDK writes it:
// indefinite-length map and array, data as byte strings), and the handler's response.
PutRecordsBodies MakePutRecords(size_t record_bytes) {
  std::mt19937_64 rng(42);
  PutRecordsBodies b;
  JsonWriter req;
  req.StartObject();
  req.Key("StreamName");
  req.String("bench");
  req.Key("Records");
  req.StartArray();
  std::string cbor =
      "\xbf\x6aStreamName\x65"
      "bench\x67Records\x9f";
  unsigned char head[9];
  for (int i = 0; i < kRecords; ++i) {
    const std::string data = RandomBytes(rng, record_bytes);
    const std::string key = "partition-key-" + std::to_string(i);
    b.data_bytes += data.size();
    req.StartObject();
    req.Key("Data");
    req.Base64String(data);
    req.Key("PartitionKey");
    req.String(key);
    req.EndObject();
    cbor +=
        "\xbf\x64"
        "Data";
    cbor.append(reinterpret_cast<char*>(head), cbor_encode_bytestring_start(data.size(), head, 9));
    cbor += data;
    cbor += "\x6cPartitionKey";
    cbor.append(reinterpret_cast<char*>(head), cbor_encode_string_start(key.size(), head, 9));
    cbor += key;
    cbor += "\xff";
  }
  req.EndArray();
  req.EndObject();
  cbor += "\xff\xff";
  b.json = req.Take();
  b.cbor = std::move(cbor);

  JsonWriter resp;
  resp.StartObject();
  resp.Key("FailedRecordCount");
  resp.Uint64(0);
  resp.Key("Records");
  resp.StartArray();
  for (int i = 0; i < kRecords; ++i) {
    resp.StartObject();
    resp.Key("SequenceNumber");
    resp.TrustedString("49654893711279617648537290543285329094" + std::to_string(100 + i));
    resp.Key("ShardId");
    resp.TrustedString("shardId-000000000000");
    resp.EndObject();
  }
  resp.EndArray();
  resp.EndObject();
  b.response_json = resp.Take();
  return b;
}

// The handler's share of the protocol work: parse in place, decode every record's data.
size_t ParseAndDecode(std::string body) {
  rapidjson::Document doc;
  if (ParseJsonObjectInsitu(doc, body)) return 0;
  std::string data;
  size_t total = 0;
  for (const auto& rec : doc["Records"].GetArray()) {
    const auto& d = rec["Data"];
    data.resize(Base64MaxDecodedSize(d.GetStringLength()));
    total +=
        Base64Decode(std::string_view(d.GetString(), d.GetStringLength()), data.data()).value_or(0);
  }
  return total;
}

void SetCounters(benchmark::State& state, size_t data_bytes) {
  state.SetItemsProcessed(state.iterations() * kRecords);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data_bytes));
}

void BM_PutRecordsJson(benchmark::State& state) {
  const PutRecordsBodies b = MakePutRecords(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseAndDecode(b.json));
    std::string response = b.response_json;  // the handler's answer goes out as written
    benchmark::DoNotOptimize(response);
  }
  SetCounters(state, b.data_bytes);
}

void BM_PutRecordsCbor(benchmark::State& state) {
  const PutRecordsBodies b = MakePutRecords(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Result<std::string> json = cbor::DecodeRequest(b.cbor);
    if (!json.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(ParseAndDecode(std::move(json.value())));
    Result<std::string> response = cbor::EncodeResponse("PutRecords", b.response_json);
    benchmark::DoNotOptimize(response);
  }
  SetCounters(state, b.data_bytes);
}

// The CBOR decode alone, and the response encode alone.
void BM_PutRecordsCborDecodeOnly(benchmark::State& state) {
  const PutRecordsBodies b = MakePutRecords(static_cast<size_t>(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(cbor::DecodeRequest(b.cbor));
  SetCounters(state, b.data_bytes);
}

void BM_GetRecordsCborEncode(benchmark::State& state) {
  std::mt19937_64 rng(7);
  JsonWriter w;
  size_t data_bytes = 0;
  w.StartObject();
  w.Key("Records");
  w.StartArray();
  for (int i = 0; i < kRecords; ++i) {
    const std::string data = RandomBytes(rng, static_cast<size_t>(state.range(0)));
    data_bytes += data.size();
    w.StartObject();
    w.Key("SequenceNumber");
    w.TrustedString("49654893711279617648537290543285329094" + std::to_string(100 + i));
    w.Key("ApproximateArrivalTimestamp");
    w.EpochSeconds(1700000000123 + i);
    w.Key("Data");
    w.Base64String(data);
    w.Key("PartitionKey");
    w.String("partition-key-" + std::to_string(i));
    w.EndObject();
  }
  w.EndArray();
  w.Key("NextShardIterator");
  w.TrustedString("AAAAAAAAAAGbd0y2Yxc0g0ZaFdi5qL0n9cE4vnjN+K3yoMbB8JyTNe8Yx3vR");
  w.Key("MillisBehindLatest");
  w.Uint64(0);
  w.EndObject();
  const std::string json = w.Take();
  for (auto _ : state)
    benchmark::DoNotOptimize(cbor::EncodeResponse("GetRecords", json));
  SetCounters(state, data_bytes);
}

BENCHMARK(BM_PutRecordsJson)->Arg(100)->Arg(1024)->Arg(10240);
BENCHMARK(BM_PutRecordsCbor)->Arg(100)->Arg(1024)->Arg(10240);
BENCHMARK(BM_PutRecordsCborDecodeOnly)->Arg(100)->Arg(1024)->Arg(10240);
BENCHMARK(BM_GetRecordsCborEncode)->Arg(100)->Arg(1024)->Arg(10240);

}  // namespace
}  // namespace tideline::server

BENCHMARK_MAIN();
