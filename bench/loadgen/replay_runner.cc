#include "replay_runner.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http_connection.h"
#include "json_scan.h"
#include "kinesis_admin.h"

namespace tideline::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

// Consecutive empty responses after which a shard counts as caught up even if the server
// still reports MillisBehindLatest > 0 (a warning says so).
constexpr int kMaxEmptyResponses = 5;
// Consecutive failed calls after which a shard is given up.
constexpr int kMaxShardErrors = 5;

struct ReplayContext {
  const LoadgenOptions& options;
  const std::vector<std::string>& shard_ids;
  std::atomic<size_t>& next_shard;
  const std::atomic<bool>& stop;
  Clock::time_point deadline;
  LiveCounters& counters;
};

bool ShouldStop(const ReplayContext& ctx) {
  return ctx.stop.load(std::memory_order_relaxed) || Clock::now() >= ctx.deadline;
}

// Outcome of one GetRecords call: true to continue reading the shard.
// `response` is the reader's, reused from call to call so that its body buffer is too.
bool ReadOnce(const ReplayContext& ctx, const std::string& shard, HttpConnection& connection,
              HttpResponse& response, std::string& iterator, int& empty_responses, int& errors) {
  std::string body = "{\"ShardIterator\":";
  AppendJsonString(body, iterator);
  body += ",\"Limit\":" + std::to_string(ctx.options.limit) + "}";
  std::string error;
  auto sent = Clock::now();
  bool ok = connection.RoundTrip(BuildKinesisRequest(ctx.options.endpoint, "GetRecords", body),
                                 response, error);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
  RecordsScan scan;
  if (ok && response.status == 200) scan = ScanRecords(response.body);
  if (!ok || response.status != 200 || !scan.well_formed) {
    ctx.counters.errors.fetch_add(1, std::memory_order_relaxed);
    fmt::print(stderr, "{}: GetRecords: {}\n", shard,
               !ok                      ? error
               : response.status != 200 ? DescribeError(response)
                                        : "malformed Data");
    return ++errors < kMaxShardErrors;
  }
  errors = 0;
  ctx.counters.latency_us.Record(static_cast<uint64_t>(micros.count()));
  ctx.counters.requests.fetch_add(1, std::memory_order_relaxed);
  ctx.counters.records.fetch_add(scan.records, std::memory_order_relaxed);
  ctx.counters.payload_bytes.fetch_add(scan.payload_bytes, std::memory_order_relaxed);
  auto next = ScanString(response.body, "NextShardIterator");
  if (!next || next->empty()) return false;  // closed shard, read to its end
  iterator = std::move(*next);
  if (scan.records > 0) {
    empty_responses = 0;
    return true;
  }
  if (ScanUnsigned(response.body, "MillisBehindLatest").value_or(0) == 0) return false;
  if (++empty_responses >= kMaxEmptyResponses) {
    fmt::print(stderr,
               "{}: {} empty responses with MillisBehindLatest > 0; treating as caught up\n", shard,
               empty_responses);
    return false;
  }
  return true;
}

void ReplayWorker(const ReplayContext& ctx, HttpConnection& connection) {
  KinesisAdmin admin(ctx.options.endpoint);
  size_t index;
  while (!ShouldStop(ctx) && (index = ctx.next_shard.fetch_add(1)) < ctx.shard_ids.size()) {
    const std::string& shard = ctx.shard_ids[index];
    std::string iterator, error;
    if (!admin.TrimHorizonIterator(ctx.options.stream, shard, iterator, error)) {
      ctx.counters.errors.fetch_add(1, std::memory_order_relaxed);
      fmt::print(stderr, "{}: {}\n", shard, error);
      continue;
    }
    int empty_responses = 0, errors = 0;
    HttpResponse response;
    while (!ShouldStop(ctx) &&
           ReadOnce(ctx, shard, connection, response, iterator, empty_responses, errors)) {
    }
  }
}

}  // namespace

bool RunReplay(const LoadgenOptions& options, const std::atomic<bool>& stop, RunSummary& summary,
               std::string& error) {
  std::vector<std::string> shard_ids;
  {
    KinesisAdmin admin(options.endpoint);
    if (!admin.ListShardIds(options.stream, shard_ids, error)) return false;
  }
  int workers = std::min(options.connections, static_cast<int>(shard_ids.size()));
  fmt::print(stderr, "replay: {} shards, {} connections, at most {} s\n", shard_ids.size(), workers,
             options.seconds);
  LiveCounters counters;
  WorkerLatch latch(workers);
  std::atomic<size_t> next_shard{0};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(options.seconds));
  ReplayContext ctx{options, shard_ids, next_shard, stop, deadline, counters};
  std::vector<std::unique_ptr<HttpConnection>> connections;
  for (int i = 0; i < workers; ++i) {
    connections.push_back(std::make_unique<HttpConnection>(options.endpoint));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&, i] {
      ReplayWorker(ctx, *connections[static_cast<size_t>(i)]);
      latch.CountDown();
    });
  }
  summary = WatchRun("replay", counters, latch, start, deadline,
                     std::chrono::duration<double>(options.report_interval), [&] {
                       fmt::print(stderr, "readers still busy 30 s after the deadline; aborting\n");
                       for (auto& c : connections)
                         c->Abort();
                     });
  for (auto& t : threads)
    t.join();
  return true;
}

}  // namespace tideline::loadgen
