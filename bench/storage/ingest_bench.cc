// Durable ingest benchmark: P producer threads call Append with batches of 1 KiB random records
// (like PutRecords of 500), across S shards of one stream; prints throughput and ack latency
// every 10 s and overall, peak RSS (VmHWM), then replays one shard through Store::Read.
//
//   storage_ingest_bench --seconds 300 --durability fsync --dir /path/to/empty/dir
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using tideline::StreamName;
namespace st = tideline::storage;

struct Config {
  int seconds = 60;
  std::string durability = "fsync";
  std::string dir = "benchdata";
  int producers = 8;
  int batch = 500;
  int record_bytes = 1024;
  uint32_t shards = 4;
  std::string records_cf_options;
  std::string db_options;
};

std::string PeakRss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return line.substr(6);
  }
  return "?";
}

// Latency samples (microseconds) of one reporting interval, shared by producers.
struct Window {
  std::mutex mu;
  std::vector<int64_t> latencies_us;
  std::vector<int64_t> all_us;
  uint64_t records = 0;
};

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]) / 1000.0;
}

void Producer(st::Store& store, const Config& cfg, const std::string& pool, int seed,
              const std::atomic<bool>& stop, Window& window, std::atomic<bool>& failed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> keys(cfg.batch);
  std::vector<st::AppendRecord> records(cfg.batch);
  const StreamName stream("bench");
  while (!stop.load()) {
    for (int i = 0; i < cfg.batch; ++i) {
      keys[i] = std::to_string(rng());
      const size_t at = rng() % (pool.size() - cfg.record_bytes);
      records[i] = {keys[i], {}, std::string_view(pool).substr(at, cfg.record_bytes)};
    }
    const auto t0 = Clock::now();
    auto result = store.Append(stream, records);
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    if (!result.ok()) {
      std::fprintf(stderr, "append failed: %s\n", result.status().ToString().c_str());
      failed = true;
      return;
    }
    std::lock_guard<std::mutex> lock(window.mu);
    window.latencies_us.push_back(us);
    window.records += static_cast<uint64_t>(cfg.batch);
  }
}

void Report(const char* label, uint64_t records, double secs, int record_bytes,
            std::vector<int64_t>& lat) {
  const double mb = static_cast<double>(records) * record_bytes / 1e6;
  std::printf("%-8s records/s=%9.0f MB/s=%7.1f ack_ms p50=%7.1f p99=%7.1f VmHWM=%s\n", label,
              static_cast<double>(records) / secs, mb / secs, Percentile(lat, 0.50),
              Percentile(lat, 0.99), PeakRss().c_str());
  std::fflush(stdout);
}

void Replay(st::Store& store) {
  const auto t0 = Clock::now();
  uint64_t bytes = 0;
  uint64_t records = 0;
  tideline::Offset from(1);
  const tideline::ShardId shard("shardId-000000000000");
  for (;;) {
    auto r = store.Read(StreamName("bench"), shard, from, st::ReadLimits{},
                        [&](const st::RecordView& v) { bytes += v.data.size(); });
    if (!r.ok()) {
      std::fprintf(stderr, "replay failed: %s\n", r.status().ToString().c_str());
      return;
    }
    records += r->records;
    if (r->records == 0) break;
    from = r->next;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("replay   shard 0: %llu records, %.1f MB in %.1f s = %.1f MB/s\n",
              static_cast<unsigned long long>(records), bytes / 1e6, secs, bytes / 1e6 / secs);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"tideline storage ingest benchmark"};
  app.add_option("--seconds", cfg.seconds, "ingest duration");
  app.add_option("--durability", cfg.durability, "fsync | none")
      ->check(CLI::IsMember({"fsync", "none"}));
  app.add_option("--dir", cfg.dir, "data directory (should be empty)");
  app.add_option("--producers", cfg.producers, "producer threads");
  app.add_option("--batch", cfg.batch, "records per append");
  app.add_option("--record-bytes", cfg.record_bytes, "bytes of data per record");
  app.add_option("--shards", cfg.shards, "shards of the stream");
  app.add_option("--records-cf-options", cfg.records_cf_options, "RocksDB CF option overrides");
  app.add_option("--db-options", cfg.db_options, "RocksDB DB option overrides");
  CLI11_PARSE(app, argc, argv);

  st::StoreOptions options;
  options.data_dir = cfg.dir;
  options.durability = cfg.durability == "fsync" ? st::Durability::kFsync : st::Durability::kNone;
  options.records_cf_options_override = cfg.records_cf_options;
  options.db_options_override = cfg.db_options;
  options.shard_limit = 100'000;
  auto store = st::Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  if (auto s = (*store)->CreateStream(StreamName("bench"), cfg.shards); !s.ok()) {
    std::fprintf(stderr, "create: %s\n", s.ToString().c_str());
    return 1;
  }
  std::string pool(8u << 20, '\0');
  std::mt19937_64 rng(42);
  for (auto& c : pool)
    c = static_cast<char>(rng());

  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  Window window;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int i = 0; i < cfg.producers; ++i) {
    threads.emplace_back(Producer, std::ref(**store), std::cref(cfg), std::cref(pool), i + 1,
                         std::cref(stop), std::ref(window), std::ref(failed));
  }
  uint64_t total = 0;
  auto last = start;
  while (!failed.load() && Clock::now() - start < std::chrono::seconds(cfg.seconds)) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    std::vector<int64_t> lat;
    uint64_t n = 0;
    {
      std::lock_guard<std::mutex> lock(window.mu);
      lat.swap(window.latencies_us);
      n = window.records;
      window.records = 0;
      window.all_us.insert(window.all_us.end(), lat.begin(), lat.end());
    }
    const auto now = Clock::now();
    total += n;
    char label[16];
    std::snprintf(label, sizeof(label), "t=%llds",
                  static_cast<long long>(
                      std::chrono::duration_cast<std::chrono::seconds>(now - start).count()));
    Report(label, n, std::chrono::duration<double>(now - last).count(), cfg.record_bytes, lat);
    last = now;
  }
  stop = true;
  for (auto& t : threads)
    t.join();
  total += window.records;
  window.all_us.insert(window.all_us.end(), window.latencies_us.begin(), window.latencies_us.end());
  Report("overall", total, std::chrono::duration<double>(Clock::now() - start).count(),
         cfg.record_bytes, window.all_us);
  Replay(**store);
  std::printf("peak RSS (VmHWM):%s\n", PeakRss().c_str());
  return failed.load() ? 1 : 0;
}
