// PutRecords through its handler (parse, validate, decode, append, respond) on the in-memory
// store, with server.throughput_limits off and on. On, the limits are set so high that nothing
// is refused: the figure is what the check itself costs (hash routing and two bucket takes a
// record). Off must cost what the handler cost before the limits existed.
// Args: bytes per record. Run: put_handler_bench
#include <memory>
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "common/clock.h"
#include "handlers.h"
#include "json_util.h"
#include "storage/store.h"
#include "throughput_limiter.h"

namespace tideline::server {
namespace {

constexpr int kRecords = 500;
constexpr int kShards = 4;

std::string PutRecordsBody(size_t record_bytes) {
  std::mt19937_64 rng(7);
  JsonWriter w;
  w.StartObject();
  w.Key("StreamName");
  w.String("bench");
  w.Key("Records");
  w.StartArray();
  for (int i = 0; i < kRecords; ++i) {
    std::string data(record_bytes, '\0');
    for (char& c : data)
      c = static_cast<char>(rng());
    w.StartObject();
    w.Key("Data");
    w.Base64String(data);
    w.Key("PartitionKey");
    w.String("partition-key-" + std::to_string(rng() % 100000));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

void RunPutRecords(benchmark::State& state, bool limits_on) {
  auto store = storage::Store::OpenInMemory();
  if (!store.ok() || !(*store)->CreateStream(StreamName("bench"), kShards).ok()) {
    state.SkipWithError("store");
    return;
  }
  ThroughputLimits limits;
  limits.enabled = true;
  limits.write_records_per_sec = ThroughputLimits::kPerSec.max;
  limits.write_bytes_per_sec = ThroughputLimits::kBytesPerSec.max;
  ThroughputLimiter limiter(limits, Clock::System());
  HandlerContext ctx;
  ctx.store = store->get();
  ctx.now_ms = &WallClockMs;
  ctx.limiter = limits_on ? &limiter : nullptr;
  const std::string body = PutRecordsBody(static_cast<size_t>(state.range(0)));
  uint64_t failed = 0;
  for (auto _ : state) {
    ApiResponse out;
    HandlePutRecords(ctx, std::make_shared<std::string>(body),
                     [&out](ApiResponse r) { out = std::move(r); });
    if (out.status != 200 || out.body.find("\"FailedRecordCount\":0") == std::string::npos) {
      ++failed;
    }
    benchmark::DoNotOptimize(out);
  }
  if (failed != 0) state.SkipWithError("a PutRecords failed");
  state.SetItemsProcessed(state.iterations() * kRecords);
}

void BM_PutRecordsLimitsOff(benchmark::State& state) {
  RunPutRecords(state, false);
}
void BM_PutRecordsLimitsOn(benchmark::State& state) {
  RunPutRecords(state, true);
}

// Bounded iterations: the in-memory store keeps every record.
BENCHMARK(BM_PutRecordsLimitsOff)->Arg(100)->Arg(1024)->Iterations(2000)->Repetitions(5);
BENCHMARK(BM_PutRecordsLimitsOn)->Arg(100)->Arg(1024)->Iterations(2000)->Repetitions(5);

}  // namespace
}  // namespace tideline::server

BENCHMARK_MAIN();
