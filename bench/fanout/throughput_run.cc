#include "throughput_run.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http_connection.h"
#include "json_scan.h"
#include "kinesis_admin.h"
#include "request_pool.h"
#include "run_stats.h"
#include "shard_reader.h"
#include "stream_setup.h"

namespace tideline::fanout {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;

constexpr double kMiB = 1024.0 * 1024.0;

// Puts PutRecords batches on options.producer_connections connections, closed loop, until
// `target_bytes` of record data are acknowledged. Returns the put summary.
loadgen::RunSummary Prefill(const FanoutOptions& options, uint64_t target_bytes,
                            const std::atomic<bool>& stop) {
  loadgen::LoadgenOptions put;
  put.endpoint = options.endpoint;
  put.stream = options.stream;
  put.batch = options.batch;
  put.record_size = options.record_size;
  put.seed = options.seed;
  const std::vector<loadgen::PreparedRequest> pool = loadgen::BuildPutRecordsPool(put);
  loadgen::LiveCounters counters;
  loadgen::WorkerLatch done(options.producer_connections);
  std::vector<std::unique_ptr<loadgen::HttpConnection>> connections;
  for (int i = 0; i < options.producer_connections; ++i)
    connections.push_back(std::make_unique<loadgen::HttpConnection>(options.endpoint));
  const auto start = Clock::now();
  // The fill ends by size; this bounds it should the server stop taking records.
  const auto deadline = start + std::chrono::hours(1);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.producer_connections; ++i) {
    threads.emplace_back([&, i] {
      loadgen::HttpConnection& http = *connections[static_cast<size_t>(i)];
      loadgen::HttpResponse response;
      std::string error;
      size_t next = static_cast<size_t>(i) * 5 % pool.size();
      int consecutive_errors = 0;
      while (!stop.load() && Clock::now() < deadline &&
             counters.payload_bytes.load(std::memory_order_relaxed) < target_bytes &&
             consecutive_errors < 5) {
        const loadgen::PreparedRequest& request = pool[next];
        next = (next + 1) % pool.size();
        const auto sent = Clock::now();
        const bool signing = options.endpoint.signing != nullptr;
        const std::string_view body = std::string_view(request.raw).substr(request.body_offset);
        const bool ok =
            signing ? http.RoundTrip(loadgen::KinesisHead(options.endpoint, request.operation, body,
                                                          request.body_hash),
                                     body, response, error)
                    : http.RoundTrip(request.raw, response, error);
        const auto failed = ok && response.status == 200
                                ? loadgen::ScanUnsigned(response.body, "FailedRecordCount")
                                : std::nullopt;
        if (!failed || *failed > request.records) {
          counters.errors.fetch_add(1, std::memory_order_relaxed);
          if (++consecutive_errors == 1) {
            fmt::print(stderr, "prefill {}: {}\n", i,
                       !ok ? error : loadgen::DescribeError(response));
          }
          continue;
        }
        consecutive_errors = 0;
        const uint64_t acked = request.records - *failed;
        counters.requests.fetch_add(1, std::memory_order_relaxed);
        counters.records.fetch_add(acked, std::memory_order_relaxed);
        counters.failed_records.fetch_add(*failed, std::memory_order_relaxed);
        counters.payload_bytes.fetch_add(request.payload_bytes / request.records * acked,
                                         std::memory_order_relaxed);
        counters.latency_us.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count()));
      }
      done.CountDown();
    });
  }
  loadgen::RunSummary summary = loadgen::WatchRun("prefill", counters, done, start, deadline,
                                                  duration<double>(options.report_interval), [&] {
                                                    for (auto& c : connections)
                                                      c->Abort();
                                                  });
  for (auto& t : threads)
    t.join();
  return summary;
}

}  // namespace

bool RunThroughput(const FanoutOptions& options, const std::atomic<bool>& stop,
                   std::string& json_line, std::string& error) {
  PreparedStream stream;
  if (!PrepareStream(options, {"fanout-throughput"}, stream, error)) return false;
  const auto target = static_cast<uint64_t>(options.prefill_mib * kMiB);
  fmt::print(stderr, "prefill: {:.0f} MiB of {} B records in PutRecords of {} on {} connections\n",
             options.prefill_mib, options.record_size, options.batch, options.producer_connections);
  const loadgen::RunSummary fill = Prefill(options, target, stop);
  if (fill.payload_bytes < target) {
    error = fmt::format("prefill stopped at {:.1f} of {:.0f} MiB",
                        static_cast<double>(fill.payload_bytes) / kMiB, options.prefill_mib);
    return false;
  }

  // One subscription from TRIM_HORIZON, renewed as needed, until it has every record put (a
  // stream kept from an earlier run holds more) and the server reports it caught up.
  uint64_t records = 0, payload_bytes = 0, events = 0;
  std::atomic<uint64_t> live_records{0}, live_bytes{0};
  std::atomic<bool> caught_up{false};
  std::atomic<bool> reader_done{false};
  ShardReader reader(options.endpoint, stream.consumer_arns[0], stream.shard_id);
  Clock::time_point first_event{}, done_at{};
  const auto start = Clock::now();
  ShardReaderStats stats;
  std::thread consumer([&] {
    stats = reader.Run({"TRIM_HORIZON", ""}, nullptr, [&](std::string_view payload) {
      const loadgen::RecordsScan scan = loadgen::ScanRecords(payload);
      if (events++ == 0) first_event = Clock::now();
      records += scan.records;
      payload_bytes += scan.payload_bytes;
      live_records.store(records, std::memory_order_relaxed);
      live_bytes.store(payload_bytes, std::memory_order_relaxed);
      if (records >= fill.records &&
          loadgen::ScanUnsigned(payload, "MillisBehindLatest").value_or(1) == 0) {
        done_at = Clock::now();
        caught_up.store(true);
        return false;
      }
      return true;
    });
    reader_done.store(true);
  });
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(duration<double>(options.seconds));
  const auto step =
      std::chrono::duration_cast<Clock::duration>(duration<double>(options.report_interval));
  auto next_report = start + step;
  uint64_t last_bytes = 0;
  // Polling for progress lines and the deadline, not a synchronisation: the reader ends itself.
  while (!reader_done.load() && Clock::now() < deadline && !stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() >= next_report) {
      const uint64_t bytes = live_bytes.load();
      fmt::print(stderr, "[{:6.1f} s] subscription: {} records, {:.1f} MiB/s\n",
                 duration<double>(Clock::now() - start).count(), live_records.load(),
                 static_cast<double>(bytes - last_bytes) / kMiB / options.report_interval);
      last_bytes = bytes;
      next_report += step;
    }
  }
  reader.Stop();
  consumer.join();
  if (!caught_up.load()) {
    error = fmt::format("the subscription did not catch up: {} of {} records after {:.1f} s{}",
                        records, fill.records, duration<double>(Clock::now() - start).count(),
                        stats.error.empty() ? "" : " (" + stats.error + ")");
    return false;
  }
  const double seconds = duration<double>(done_at - start).count();
  const double first_event_ms = duration<double, std::milli>(first_event - start).count();
  json_line = fmt::format(
      "{{\"mode\":\"subscription-throughput\",\"records\":{},\"payload_bytes\":{},"
      "\"seconds\":{:.3f},\"records_per_s\":{:.1f},\"mib_per_s\":{:.2f},"
      "\"body_mib_per_s\":{:.2f},\"first_event_ms\":{:.1f},\"events\":{},\"renewals\":{},"
      "\"retries\":{},\"record_size\":{},\"prefill_mib\":{:.1f},\"prefill_records_per_s\":{:.1f},"
      "\"prefill_mib_per_s\":{:.2f}}}",
      records, payload_bytes, seconds, static_cast<double>(records) / seconds,
      static_cast<double>(payload_bytes) / kMiB / seconds,
      static_cast<double>(stats.body_bytes) / kMiB / seconds, first_event_ms, events,
      stats.renewals, stats.retries, options.record_size,
      static_cast<double>(fill.payload_bytes) / kMiB, fill.RecordsPerSecond(),
      static_cast<double>(fill.payload_bytes) / kMiB / fill.seconds);
  fmt::print(stderr,
             "subscription from TRIM_HORIZON caught up with {} records ({:.1f} MiB) in {:.2f} s: "
             "{:.0f} records/s, {:.1f} MiB/s of record data\n",
             records, static_cast<double>(payload_bytes) / kMiB, seconds,
             static_cast<double>(records) / seconds,
             static_cast<double>(payload_bytes) / kMiB / seconds);
  return true;
}

}  // namespace tideline::fanout
