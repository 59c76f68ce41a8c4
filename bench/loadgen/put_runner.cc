#include "put_runner.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http_connection.h"
#include "json_scan.h"
#include "kinesis_admin.h"
#include "request_pool.h"

namespace tideline::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

// Errors printed per worker; later ones are only counted.
constexpr int kErrorsShown = 3;

// Failed records of a 200 response, or -1 if the body is not the expected answer.
int64_t FailedRecords(Mode mode, const std::string& body, uint32_t records) {
  if (mode == Mode::kPutRecord) {
    return FindValue(body, "SequenceNumber") == std::string_view::npos ? -1 : 0;
  }
  auto failed = ScanUnsigned(body, "FailedRecordCount");
  if (!failed || *failed > records) return -1;
  return static_cast<int64_t>(*failed);
}

struct WorkerContext {
  const LoadgenOptions& options;
  const std::vector<PreparedRequest>& pool;
  const std::atomic<bool>& stop;
  Clock::time_point deadline;
  LiveCounters& counters;
};

void ReportError(int worker, int& shown, const std::string& message) {
  if (shown++ < kErrorsShown) fmt::print(stderr, "connection {}: {}\n", worker, message);
}

void PutWorker(const WorkerContext& ctx, int worker, HttpConnection& connection) {
  HttpResponse response;
  std::string error;
  int shown = 0;
  size_t next = static_cast<size_t>(worker) * 5 % ctx.pool.size();
  // Open loop: this connection's share of --rate, its sends staggered against the others'.
  const bool paced = ctx.options.rate > 0;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
      paced ? ctx.pool[0].records * ctx.options.connections / ctx.options.rate : 0.0));
  auto scheduled = Clock::now() + interval * worker / std::max(1, ctx.options.connections);
  while (!ctx.stop.load(std::memory_order_relaxed) && Clock::now() < ctx.deadline) {
    const PreparedRequest& request = ctx.pool[next];
    next = (next + 1) % ctx.pool.size();
    if (paced) {
      // Pacing the offered load is the point of this mode, not a synchronisation.
      std::this_thread::sleep_until(scheduled);
    }
    // Latency counts from the scheduled send, so a late send is charged to the server.
    auto sent = paced ? scheduled : Clock::now();
    scheduled += interval;
    // A signing generator signs each send, as an SDK does (a signature lives 5 minutes).
    const bool sent_ok =
        ctx.options.endpoint.signing
            ? connection.RoundTrip(
                  KinesisHead(ctx.options.endpoint, request.operation,
                              std::string_view(request.raw).substr(request.body_offset),
                              request.body_hash),
                  std::string_view(request.raw).substr(request.body_offset), response, error)
            : connection.RoundTrip(request.raw, response, error);
    if (!sent_ok) {
      ctx.counters.errors.fetch_add(1, std::memory_order_relaxed);
      ReportError(worker, shown, error);
      // A refused or reset connection fails instantly; pace reconnects instead of spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
    int64_t failed = response.status == 200
                         ? FailedRecords(ctx.options.mode, response.body, request.records)
                         : -1;
    if (failed < 0) {
      ctx.counters.errors.fetch_add(1, std::memory_order_relaxed);
      ReportError(worker, shown,
                  response.status == 200 ? "unexpected response: " + response.body.substr(0, 200)
                                         : DescribeError(response));
      continue;
    }
    uint64_t acked = request.records - static_cast<uint64_t>(failed);
    ctx.counters.latency_us.Record(static_cast<uint64_t>(micros));
    ctx.counters.requests.fetch_add(1, std::memory_order_relaxed);
    ctx.counters.records.fetch_add(acked, std::memory_order_relaxed);
    ctx.counters.failed_records.fetch_add(static_cast<uint64_t>(failed), std::memory_order_relaxed);
    // Every record of a request has the same size.
    ctx.counters.payload_bytes.fetch_add(request.payload_bytes / request.records * acked,
                                         std::memory_order_relaxed);
  }
}

}  // namespace

RunSummary RunPut(const LoadgenOptions& options, const std::atomic<bool>& stop) {
  bool batch_mode = options.mode == Mode::kPutRecords;
  auto pool = batch_mode ? BuildPutRecordsPool(options) : BuildPutRecordPool(options);
  uint64_t pool_bytes = 0;
  for (const auto& request : pool)
    pool_bytes += request.raw.size();
  fmt::print(stderr, "{}: {} connections, {} pre-built requests ({:.1f} MB), {} s\n",
             batch_mode ? "put-records" : "put-record", options.connections, pool.size(),
             static_cast<double>(pool_bytes) / 1e6, options.seconds);

  LiveCounters counters;
  WorkerLatch latch(options.connections);
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(options.seconds));
  WorkerContext ctx{options, pool, stop, deadline, counters};
  std::vector<std::unique_ptr<HttpConnection>> connections;
  std::vector<std::thread> threads;
  // All connections exist before any thread starts: workers index the vector.
  for (int i = 0; i < options.connections; ++i) {
    connections.push_back(std::make_unique<HttpConnection>(options.endpoint));
  }
  for (int i = 0; i < options.connections; ++i) {
    threads.emplace_back([&, i] {
      PutWorker(ctx, i, *connections[static_cast<size_t>(i)]);
      latch.CountDown();
    });
  }
  RunSummary summary =
      WatchRun(batch_mode ? "put-records" : "put-record", counters, latch, start, deadline,
               std::chrono::duration<double>(options.report_interval), [&] {
                 fmt::print(stderr, "connections still busy 30 s after the deadline; aborting\n");
                 for (auto& c : connections)
                   c->Abort();
               });
  for (auto& t : threads)
    t.join();
  return summary;
}

}  // namespace tideline::loadgen
