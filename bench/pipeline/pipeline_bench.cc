// End-to-end pipeline load: producers append access-log lines to a durable store (fsync) at a
// fixed rate while a pipeline (access_log [+ geoip] -> file destination, fsynced, or an
// OpenSearch cluster) tails every shard. Reports the append-to-reader delay (arrival time of a
// record to the moment its shard reader hands it to the transforms) p50/p99/max, delivered
// records/s and peak RSS; with --opensearch also the append-to-indexed latency (arrival to the
// cluster's acknowledgement of the bulk item) with a 1 s buffer interval.
//
//   pipeline_bench [--seconds 30] [--rate 50000] [--shards 4] [--batch 500] [--geoip]
//                  [--opensearch URL [--gzip]] [--dir /tmp/tideline-pipeline-bench]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mmdb/mmdb_writer.h"
#include "pipeline/pipeline.h"
#include "pipeline/processor.h"
#include "storage/store.h"

namespace {

using namespace tideline;  // NOLINT: a benchmark's main

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// First processor of the chain: records how long each record waited before its reader took it.
class DelayProbe final : public pipeline::Processor {
 public:
  std::string_view type() const override { return "probe"; }
  void Process(pipeline::RecordBatch& batch) override {
    const int64_t now = WallMs();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : batch.records())
      delays_.push_back(static_cast<int32_t>(now - r.arrival_ms));
  }
  std::vector<int32_t> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(delays_);
  }

 private:
  std::mutex mu_;
  std::vector<int32_t> delays_;
};

// Wraps the destination: when Deliver returns, each delivered document is acknowledged by the
// cluster; records its arrival-to-acknowledgement latency.
class AckProbe final : public pipeline::Destination {
 public:
  explicit AckProbe(std::unique_ptr<pipeline::Destination> inner) : inner_(std::move(inner)) {}
  std::string_view type() const override { return inner_->type(); }
  std::string description() const override { return inner_->description(); }
  tideline::Status Deliver(std::span<const pipeline::Document> docs,
                           std::span<pipeline::DeliveryResult> results,
                           std::stop_token stop) override {
    const tideline::Status st = inner_->Deliver(docs, results, stop);
    const int64_t now = WallMs();
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < docs.size(); ++i) {
      if (results[i].delivered)
        latencies_.push_back(static_cast<int32_t>(now - docs[i].arrival_ms));
    }
    return st;
  }
  pipeline::DestinationCounters counters() const override { return inner_->counters(); }
  std::vector<int32_t> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(latencies_);
  }

 private:
  std::unique_ptr<pipeline::Destination> inner_;
  std::mutex mu_;
  std::vector<int32_t> latencies_;
};

std::string Line(std::mt19937_64& rng, uint64_t n) {
  char buf[320];
  std::snprintf(buf, sizeof(buf),
                "%u.%u.%u.%u - - [30/Nov/2026:10:%02u:%02u +0000] \"GET /products/%llu?ref=bench "
                "HTTP/1.1\" 200 %u \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) "
                "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"",
                static_cast<unsigned>(23 + rng() % 200), static_cast<unsigned>(rng() % 256),
                static_cast<unsigned>(rng() % 256), static_cast<unsigned>(1 + rng() % 254),
                static_cast<unsigned>(n / 60 % 60), static_cast<unsigned>(n % 60),
                static_cast<unsigned long long>(n), static_cast<unsigned>(rng() % 50000));
  return buf;
}

uint64_t DeliveredOrHandled(const pipeline::PipelineStatus& s) {
  uint64_t n = 0;
  for (const auto& sh : s.shards) {
    n += sh.counters.records_delivered + sh.counters.records_delivery_failed +
         sh.counters.records_processing_failed + sh.counters.records_dropped;
  }
  return n;
}

int Percentile(std::vector<int32_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 30, rate = 50'000, shards = 4, batch_size = 500;
  bool geoip = false, gzip = false;
  std::string opensearch;
  std::string dir = "/tmp/tideline-pipeline-bench";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--seconds")
      seconds = std::stoi(next());
    else if (a == "--rate")
      rate = std::stoi(next());
    else if (a == "--shards")
      shards = std::stoi(next());
    else if (a == "--batch")
      batch_size = std::stoi(next());
    else if (a == "--geoip")
      geoip = true;
    else if (a == "--dir")
      dir = next();
    else if (a == "--opensearch")
      opensearch = next();
    else if (a == "--gzip")
      gzip = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  storage::StoreOptions so;
  so.data_dir = dir + "/data";
  auto opened = storage::Store::Open(so);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  auto& store = **opened;
  if (auto st = store.CreateStream(StreamName("bench"), static_cast<uint32_t>(shards)); !st.ok()) {
    std::fprintf(stderr, "create: %s\n", st.ToString().c_str());
    return 1;
  }

  pipeline::PipelineOptions po;
  po.name = "bench";
  po.source.stream = StreamName("bench");
  po.buffer.interval_s = 1;
  po.buffer.size_mib = 5;
  pipeline::FileDestinationOptions fo;
  fo.path = dir + "/out";
  po.destination.options = fo;
  po.backup.path = dir + "/backup";
  auto probe_owned = std::make_unique<DelayProbe>();
  DelayProbe* probe = probe_owned.get();
  std::vector<std::unique_ptr<pipeline::Processor>> processors;
  processors.push_back(std::move(probe_owned));
  processors.push_back(pipeline::MakeAccessLogProcessor({}).value());
  if (geoip) {
    std::vector<mmdb::MmdbNetwork> nets;
    for (int first = 23; first <= 222; ++first) {
      nets.push_back({std::to_string(first) + ".0.0.0/8",
                      R"({"country":{"iso_code":"DE","names":{"en":"Germany"}},)"
                      R"("city":{"names":{"en":"Berlin"}},"location":{"latitude":52.5,)"
                      R"("longitude":13.4}})"});
    }
    if (auto st = mmdb::WriteMmdb(dir + "/geo.mmdb", "bench-City", nets); !st.ok()) {
      std::fprintf(stderr, "mmdb: %s\n", st.ToString().c_str());
      return 1;
    }
    pipeline::GeoIpOptions go;
    go.database = dir + "/geo.mmdb";
    processors.push_back(pipeline::MakeGeoIpProcessor(go).value());
  }
  auto made = opensearch.empty() ? pipeline::MakeFileDestination(fo, po.name) : [&] {
    pipeline::OpenSearchDestinationOptions oo;
    oo.urls = {opensearch};
    oo.index = "bench";
    oo.gzip = gzip;
    return pipeline::MakeOpenSearchDestination(oo);
  }();
  if (!made.ok()) {
    std::fprintf(stderr, "destination: %s\n", made.status().ToString().c_str());
    return 1;
  }
  auto ack_owned = std::make_unique<AckProbe>(std::move(*made));
  AckProbe* ack = ack_owned.get();
  auto started =
      pipeline::Pipeline::StartWith(po, store, std::move(processors), std::move(ack_owned));
  if (!started.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", started.status().ToString().c_str());
    return 1;
  }
  auto& pipe = **started;

  // Producers: two threads, each appending batch_size records per call at rate / 2 records/s.
  std::atomic<uint64_t> appended{0};
  std::atomic<bool> stop{false};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937_64 rng(p + 1);
      std::vector<std::string> lines(batch_size), keys(batch_size);
      std::vector<storage::AppendRecord> recs(batch_size);
      const double per_batch_s = static_cast<double>(batch_size) / (rate / 2.0);
      uint64_t n = 0;
      for (uint64_t b = 0; !stop.load(); ++b) {
        const auto due = t0 + std::chrono::duration<double>(per_batch_s * static_cast<double>(b));
        std::this_thread::sleep_until(due);  // open-loop pacing of a load generator
        for (int i = 0; i < batch_size; ++i, ++n) {
          lines[i] = Line(rng, n);
          keys[i] = std::to_string(rng());
          recs[i] = {keys[i], "", lines[i]};
        }
        auto r = store.Append(StreamName("bench"), recs);
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          return;
        }
        appended.fetch_add(static_cast<uint64_t>(batch_size));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : producers)
    t.join();
  const double put_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Drain: wait until everything appended has been handled.
  while (DeliveredOrHandled(pipe.GetStatus()) < appended.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  pipe.Stop();

  std::vector<int32_t> delays = probe->Take();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("pipeline_bench: %d shards, access_log%s -> %s, buffer 5 MiB / 1 s\n", shards,
              geoip ? " + geoip" : "",
              opensearch.empty() ? "file (fsync)" : ("opensearch " + opensearch).c_str());
  std::printf("  appended %llu records in %.1f s (%.0f records/s offered, store fsync)\n",
              static_cast<unsigned long long>(appended.load()), put_s,
              static_cast<double>(appended.load()) / put_s);
  std::printf("  handled  %llu records in %.1f s (%.0f records/s end to end)\n",
              static_cast<unsigned long long>(delays.size()), total_s,
              static_cast<double>(delays.size()) / total_s);
  const int p50 = Percentile(delays, 0.50), p99 = Percentile(delays, 0.99);
  const int max = delays.empty() ? 0 : *std::max_element(delays.begin(), delays.end());
  std::printf("  append-to-reader delay: p50 %d ms, p99 %d ms, max %d ms\n", p50, p99, max);
  std::vector<int32_t> acks = ack->Take();
  if (!opensearch.empty()) {
    std::printf("  append-to-indexed latency: p50 %d ms, p99 %d ms, max %d ms (%zu documents)\n",
                Percentile(acks, 0.50), Percentile(acks, 0.99),
                acks.empty() ? 0 : *std::max_element(acks.begin(), acks.end()), acks.size());
  }
  std::printf("  peak RSS %.1f MiB (store, producers and pipeline in one process)\n",
              static_cast<double>(ru.ru_maxrss) / 1024.0);
  return 0;
}
