// Transform throughput on one thread (Google Benchmark): records/s and bytes/s of the built-in
// processors on realistic ~200-byte combined access-log lines (varied IPv4/IPv6 clients, zones,
// paths, referrers and agents), in batches of 500 built as a shard reader builds them
// (RecordBatch::Add of each stored record, then Process).
//
//   pipeline_transform_bench --benchmark_filter=AccessLog
//
// BM_AccessLog                    access_log.Process only (batch building and teardown paused)
// BM_AccessLogIncludingBatch      the batch's Add copies and teardown timed too
// BM_AccessLogThenSerialize       access_log, then each record back to bytes, as delivery does
// BM_AccessLogPlusGeoIp           access_log then geoip on a generated GeoLite2-City-like
//                                 database (tests/pipeline/mmdb_writer.h), ~90% of IPs found
//
// The allocator matters more than the parser here. A batch's arena chunks and JSON pool are
// below glibc's mmap threshold, so freeing a batch leaves the top of the heap free, glibc
// trims it (brk), and the next batch page-faults it back in: on a VM that costs several times
// the parsing. To see the processors' own cost, run with
//   GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864 pipeline_transform_bench ...
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "mmdb/mmdb_writer.h"
#include "pipeline/processor.h"

namespace {

using tideline::Offset;
using tideline::ShardId;
using tideline::StreamName;
namespace tp = tideline::pipeline;

constexpr size_t kBatchRecords = 500;
constexpr size_t kDistinctLines = 4096;

// First octets of the IPv4 clients the GeoIP database knows (every /16 under them); kUnknownOctet
// clients are not in it.
constexpr int kKnownOctets[] = {81, 86, 92, 104, 151, 178, 185, 212};
constexpr int kUnknownOctet = 45;
// IPv6 clients come from these /32s, all in the database.
constexpr const char* kIpv6Prefixes[] = {"2a02:c7c", "2600:1700", "2a01:e0a"};

constexpr const char* kAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
};
constexpr const char* kPaths[] = {
    "/",          "/index.html", "/api/v1/orders/", "/static/js/app.", "/products/",
    "/search?q=", "/img/thumb/", "/account/login",  "/blog/2026/11/",  "/favicon.ico",
};
constexpr const char* kZones[] = {"+0000", "-0700", "+0530", "+0200", "-0500", "+0900"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Distinct combined-format lines averaging ~200 bytes.
std::vector<std::string> MakeLines(size_t count) {
  std::mt19937_64 rng(20261130);
  const auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> lines;
  lines.reserve(count);
  char buf[1024];
  for (size_t i = 0; i < count; ++i) {
    std::string ip;
    const size_t kind = pick(100);
    if (kind < 15) {
      std::snprintf(buf, sizeof(buf), "%s:%x:%x::%x", kIpv6Prefixes[pick(3)],
                    static_cast<unsigned>(pick(65536)), static_cast<unsigned>(pick(65536)),
                    static_cast<unsigned>(pick(65536)));
    } else {
      const int first = kind < 25 ? kUnknownOctet : kKnownOctets[pick(std::size(kKnownOctets))];
      std::snprintf(buf, sizeof(buf), "%d.%zu.%zu.%zu", first, pick(256), pick(256), 1 + pick(254));
    }
    ip = buf;
    const size_t method_roll = pick(100);
    const char* method = method_roll < 80 ? "GET" : method_roll < 95 ? "POST" : "HEAD";
    const size_t status_roll = pick(100);
    const int status = status_roll < 80   ? 200
                       : status_roll < 90 ? 304
                       : status_roll < 97 ? 404
                                          : 500;
    std::string bytes = status == 304 ? "-" : std::to_string(pick(60000));
    std::string referrer = "-";
    if (pick(2) == 0) {
      std::snprintf(buf, sizeof(buf), "https://www.example.com%s%zu", kPaths[pick(10)],
                    pick(100000));
      referrer = buf;
    }
    std::snprintf(buf, sizeof(buf),
                  "%s - %s [%02zu/%s/2026:%02zu:%02zu:%02zu %s] \"%s %s%zu HTTP/%s\" %d %s "
                  "\"%s\" \"%s\"",
                  ip.c_str(), pick(20) == 0 ? "alice" : "-", 1 + pick(28), kMonths[pick(12)],
                  pick(24), pick(60), pick(60), kZones[pick(std::size(kZones))], method,
                  kPaths[pick(10)], pick(1000000), pick(3) == 0 ? "2.0" : "1.1", status,
                  bytes.c_str(), referrer.c_str(), kAgents[pick(std::size(kAgents))]);
    lines.emplace_back(buf);
  }
  return lines;
}

const std::vector<std::string>& Lines() {
  static const std::vector<std::string> lines = MakeLines(kDistinctLines);
  return lines;
}

// Fills a batch with the `iteration`th window of 500 lines; returns the bytes added.
size_t FillBatch(tp::RecordBatch& batch, uint64_t iteration) {
  const std::vector<std::string>& lines = Lines();
  size_t bytes = 0;
  const size_t first = static_cast<size_t>(iteration) * kBatchRecords;
  for (size_t i = 0; i < kBatchRecords; ++i) {
    const std::string& line = lines[(first + i) % lines.size()];
    batch.Add(Offset(first + i + 1), 1767225600000 + static_cast<int64_t>(i), "pk", line);
    bytes += line.size();
  }
  return bytes;
}

std::unique_ptr<tp::Processor> AccessLogProcessor(benchmark::State& state) {
  auto made = tp::MakeAccessLogProcessor({});
  if (!made.ok()) {
    state.SkipWithError(made.status().ToString().c_str());
    return nullptr;
  }
  return std::move(made).value();
}

void Report(benchmark::State& state, size_t bytes, size_t failed) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchRecords));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["avg_line_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations() * kBatchRecords);
  // Every generated line is valid: anything else means the benchmark measured the wrong path.
  if (failed != 0) state.SkipWithError("some records failed to parse");
}

size_t CountFailed(const tp::RecordBatch& batch) {
  size_t failed = 0;
  for (const tp::PipelineRecord& record : batch.records())
    failed += record.ok() ? 0 : 1;
  return failed;
}

// Runs `chain` on batches whose building and teardown are not timed.
template <typename AfterProcess>
void RunPausedBuild(benchmark::State& state, const std::vector<tp::Processor*>& chain,
                    AfterProcess&& after) {
  size_t bytes = 0, failed = 0;
  uint64_t iteration = 0;
  std::optional<tp::RecordBatch> batch;
  for (auto _ : state) {
    state.PauseTiming();
    batch.emplace(StreamName("web"), ShardId("shardId-000000000000"), tideline::ShardUid(1));
    bytes += FillBatch(*batch, iteration++);
    state.ResumeTiming();
    for (tp::Processor* processor : chain)
      processor->Process(*batch);
    after(*batch);
    state.PauseTiming();
    failed += CountFailed(*batch);
    batch.reset();
    state.ResumeTiming();
  }
  Report(state, bytes, failed);
}

void BM_AccessLog(benchmark::State& state) {
  auto access_log = AccessLogProcessor(state);
  if (access_log == nullptr) return;
  RunPausedBuild(state, {access_log.get()},
                 [](tp::RecordBatch& batch) { benchmark::DoNotOptimize(batch.records().data()); });
}
BENCHMARK(BM_AccessLog);

void BM_AccessLogIncludingBatch(benchmark::State& state) {
  auto access_log = AccessLogProcessor(state);
  if (access_log == nullptr) return;
  size_t bytes = 0, failed = 0;
  uint64_t iteration = 0;
  for (auto _ : state) {
    tp::RecordBatch batch(StreamName("web"), ShardId("shardId-000000000000"),
                          tideline::ShardUid(1));
    bytes += FillBatch(batch, iteration++);
    access_log->Process(batch);
    failed += CountFailed(batch);
  }
  Report(state, bytes, failed);
}
BENCHMARK(BM_AccessLogIncludingBatch);

void BM_AccessLogThenSerialize(benchmark::State& state) {
  auto access_log = AccessLogProcessor(state);
  if (access_log == nullptr) return;
  RunPausedBuild(state, {access_log.get()}, [](tp::RecordBatch& batch) {
    for (tp::PipelineRecord& record : batch.records()) {
      benchmark::DoNotOptimize(batch.Bytes(record).data());
    }
  });
}
BENCHMARK(BM_AccessLogThenSerialize);

// A GeoLite2-City-like database covering the generated clients; removed when destroyed.
class BenchGeoDb {
 public:
  BenchGeoDb()
      : path_(std::filesystem::temp_directory_path() /
              ("tideline-transform-bench-" + std::to_string(::getpid()) + ".mmdb")) {}
  ~BenchGeoDb() {
    std::error_code ignored;  // best effort: a leftover file in /tmp harms nothing
    std::filesystem::remove(path_, ignored);
  }

  tideline::Status Write() {
    constexpr const char* kPlaces[] = {
        R"({"country":{"iso_code":"GB","names":{"en":"United Kingdom"}},"city":{"names":)"
        R"({"en":"London"}},"location":{"latitude":51.5142,"longitude":-0.0931}})",
        R"({"country":{"iso_code":"US","names":{"en":"United States"}},"city":{"names":)"
        R"({"en":"Seattle"}},"location":{"latitude":47.6062,"longitude":-122.3321}})",
        R"({"country":{"iso_code":"DE","names":{"en":"Germany"}},"city":{"names":)"
        R"({"en":"Berlin"}},"location":{"latitude":52.52,"longitude":13.405}})",
        R"({"country":{"iso_code":"FR","names":{"en":"France"}},"location":)"
        R"({"latitude":48.8582,"longitude":2.3387}})",
    };
    std::vector<tideline::mmdb::MmdbNetwork> networks;
    size_t n = 0;
    for (const int first : kKnownOctets) {
      for (int second = 0; second < 256; ++second) {
        networks.push_back({std::to_string(first) + "." + std::to_string(second) + ".0.0/16",
                            kPlaces[n++ % std::size(kPlaces)]});
      }
    }
    for (const char* prefix : kIpv6Prefixes) {
      networks.push_back({std::string(prefix) + "::/32", kPlaces[n++ % std::size(kPlaces)]});
    }
    return tideline::mmdb::WriteMmdb(path_.string(), "GeoLite2-City", networks);
  }

  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

void BM_AccessLogPlusGeoIp(benchmark::State& state) {
  auto access_log = AccessLogProcessor(state);
  if (access_log == nullptr) return;
  BenchGeoDb db;
  if (tideline::Status written = db.Write(); !written.ok()) {
    state.SkipWithError(("writing the GeoIP database: " + written.ToString()).c_str());
    return;
  }
  tp::GeoIpOptions options;
  options.database = db.path();
  auto geoip = tp::MakeGeoIpProcessor(options);
  if (!geoip.ok()) {
    state.SkipWithError(geoip.status().ToString().c_str());
    return;
  }
  RunPausedBuild(state, {access_log.get(), geoip->get()},
                 [](tp::RecordBatch& batch) { benchmark::DoNotOptimize(batch.records().data()); });
}
BENCHMARK(BM_AccessLogPlusGeoIp);

}  // namespace

BENCHMARK_MAIN();
