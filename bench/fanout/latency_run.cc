#include "latency_run.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kinesis_admin.h"
#include "latency_histogram.h"
#include "producer.h"
#include "record_ids.h"
#include "run_stats.h"
#include "shard_reader.h"
#include "stream_setup.h"

namespace tideline::fanout {
namespace {

using std::chrono::duration;
using std::chrono::duration_cast;

struct ConsumerState {
  std::unique_ptr<ShardReader> reader;
  // Records of this run received (ids in the log), and anything else seen.
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> foreign{0};
  // Set when the reader returned without ever subscribing.
  std::atomic<bool> gave_up{false};
  // Written by the consumer's thread when it ends; read after it joined.
  ShardReaderStats stats;
};

// p50 / p99 / max of a histogram in milliseconds, as JSON members "<name>_p50_ms" ... or, with
// an empty name, as text.
std::string Percentiles(std::string_view name, const loadgen::LatencyHistogram& histogram) {
  const loadgen::HistogramSnapshot all = histogram.Take();
  const uint64_t max = histogram.Max();
  // Bucket midpoints can lie above the exact maximum; a percentile never does.
  const double p50 = static_cast<double>(std::min(all.Percentile(0.5), max)) / 1000;
  const double p99 = static_cast<double>(std::min(all.Percentile(0.99), max)) / 1000;
  const double max_ms = static_cast<double>(max) / 1000;
  if (name.empty())
    return fmt::format("p50 {:.3f} ms  p99 {:.3f} ms  max {:.3f} ms", p50, p99, max_ms);
  return fmt::format("\"{0}_p50_ms\":{1:.3f},\"{0}_p99_ms\":{2:.3f},\"{0}_max_ms\":{3:.3f}", name,
                     p50, p99, max_ms);
}

struct Latencies {
  loadgen::LatencyHistogram from_ack_us;
  loadgen::LatencyHistogram from_send_us;
  uint64_t counted = 0;     // (record, consumer) pairs measured
  uint64_t before_ack = 0;  // pairs received before the producer had its acknowledgement
  uint64_t missing = 0;     // acknowledged records a consumer never received
};

void Analyze(const RecordLog& log, uint64_t ids, int64_t warmup_ns, Latencies& out) {
  for (const std::vector<int64_t>& received : log.received) {
    for (uint64_t id = 0; id < ids; ++id) {
      if (log.acked[id] == 0 || log.sent[id] <= warmup_ns) continue;
      if (received[id] == 0) {
        ++out.missing;
        continue;
      }
      ++out.counted;
      const int64_t from_ack = received[id] - log.acked[id];
      if (from_ack < 0) ++out.before_ack;
      out.from_ack_us.Record(static_cast<uint64_t>(std::max<int64_t>(from_ack, 0)) / 1000);
      out.from_send_us.Record(static_cast<uint64_t>(received[id] - log.sent[id]) / 1000);
    }
  }
}

}  // namespace

bool RunLatency(const FanoutOptions& options, const std::atomic<bool>& stop, std::string& json_line,
                std::string& error) {
  std::vector<std::string> names;
  for (int i = 0; i < options.consumers; ++i)
    names.push_back("fanout-" + std::to_string(i));
  PreparedStream stream;
  if (!PrepareStream(options, names, stream, error)) return false;
  // The consumers start right after a marker record: no race with the first records put.
  std::string marker;
  {
    loadgen::KinesisAdmin admin(options.endpoint);
    if (!admin.PutRecord(options.stream, "marker", "fanout run start", marker, error)) return false;
  }

  const auto capacity = static_cast<uint64_t>(std::ceil(options.rate * options.seconds * 1.05)) +
                        static_cast<uint64_t>(options.batch * options.producer_connections);
  RecordLog log(capacity, options.consumers);
  // Every time of the log counts from here.
  const auto base = Clock::now();

  // ---- consumers: subscribed before the first record is put --------------------------------
  std::vector<ConsumerState> consumers(static_cast<size_t>(options.consumers));
  loadgen::WorkerLatch opened(options.consumers);
  std::vector<std::thread> consumer_threads;
  for (size_t c = 0; c < consumers.size(); ++c) {
    ConsumerState& state = consumers[c];
    state.reader =
        std::make_unique<ShardReader>(options.endpoint, stream.consumer_arns[c], stream.shard_id);
    consumer_threads.emplace_back([&, c] {
      std::vector<int64_t>& received = log.received[c];
      bool first_open = true;
      state.stats = state.reader->Run(
          {"AFTER_SEQUENCE_NUMBER", marker},
          [&] {
            if (std::exchange(first_open, false)) opened.CountDown();
          },
          [&](std::string_view payload) {
            const int64_t now = LogTime(base, Clock::now());
            ForEachRecordId(payload, [&](uint64_t id) {
              if (id >= received.size()) {
                state.foreign.fetch_add(1, std::memory_order_relaxed);
              } else if (received[id] != 0) {
                state.duplicates.fetch_add(1, std::memory_order_relaxed);
              } else {
                received[id] = now;
                state.received.fetch_add(1, std::memory_order_relaxed);
              }
            });
            return true;
          });
      if (first_open) {
        state.gave_up.store(true);
        opened.CountDown();
      }
    });
  }
  auto stop_consumers = [&] {
    for (auto& c : consumers)
      c.reader->Stop();
    for (auto& t : consumer_threads)
      t.join();
    consumer_threads.clear();
  };
  bool all_open = opened.WaitUntil(Clock::now() + std::chrono::seconds(60));
  for (const auto& c : consumers)
    all_open = all_open && !c.gave_up.load();
  if (!all_open) {
    stop_consumers();
    error = "not every consumer could subscribe";
    for (const auto& c : consumers) {
      if (!c.stats.error.empty()) error += ": " + c.stats.error;
    }
    return false;
  }

  // ---- producer ----------------------------------------------------------------------------
  fmt::print(stderr,
             "fanout: {} consumer(s) subscribed; {:.0f} records/s of {} B in PutRecords of {} "
             "on {} connections for {} s\n",
             options.consumers, options.rate, options.record_size, options.batch,
             options.producer_connections, options.seconds);
  ProducerCounters counters;
  std::vector<std::unique_ptr<loadgen::HttpConnection>> connections;
  for (int p = 0; p < options.producer_connections; ++p)
    connections.push_back(std::make_unique<loadgen::HttpConnection>(options.endpoint));
  loadgen::WorkerLatch produced(options.producer_connections);
  const auto first_send = Clock::now();
  const auto deadline =
      first_send + duration_cast<Clock::duration>(duration<double>(options.seconds));
  std::vector<std::thread> producers;
  for (int p = 0; p < options.producer_connections; ++p) {
    producers.emplace_back([&, p] {
      RunProducerConnection(options, p, *connections[static_cast<size_t>(p)], base, first_send,
                            deadline, stop, log, counters);
      produced.CountDown();
    });
  }
  const loadgen::RunSummary put = loadgen::WatchRun(
      "fanout-put", counters.live, produced, first_send, deadline,
      duration<double>(options.report_interval), [&] {
        fmt::print(stderr, "producer connections still busy 30 s after the deadline; aborting\n");
        for (auto& c : connections)
          c->Abort();
      });
  for (auto& t : producers)
    t.join();

  // ---- drain: until every consumer has every acknowledged record, or the drain time is up --
  const uint64_t acked = counters.live.records.load();
  const auto drain_deadline =
      Clock::now() + duration_cast<Clock::duration>(duration<double>(options.drain_seconds));
  auto slowest = [&] {
    uint64_t least = UINT64_MAX;
    for (const auto& c : consumers)
      least = std::min(least, c.received.load());
    return least;
  };
  while (slowest() < acked && Clock::now() < drain_deadline && !stop.load()) {
    // Polling the consumers' counters for the end of the run, not a synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop_consumers();

  // ---- figures -------------------------------------------------------------------------------
  Latencies latencies;
  const int64_t warmup_end = LogTime(
      base, first_send + duration_cast<Clock::duration>(duration<double>(options.warmup_seconds)));
  Analyze(log, std::min(counters.next_id.load(), capacity), warmup_end, latencies);
  uint64_t duplicates = 0, foreign = 0, renewals = 0, retries = 0, received = 0;
  std::string reader_errors;
  for (const auto& c : consumers) {
    duplicates += c.duplicates.load();
    foreign += c.foreign.load();
    received += c.received.load();
    renewals += c.stats.renewals;
    retries += c.stats.retries;
    if (!c.stats.error.empty()) reader_errors += c.stats.error + "; ";
  }
  if (!reader_errors.empty()) fmt::print(stderr, "consumer errors: {}\n", reader_errors);
  json_line = fmt::format(
      "{{\"mode\":\"fanout-latency\",\"consumers\":{},\"offered_per_s\":{:.0f},"
      "\"acked_per_s\":{:.1f},\"acked\":{},\"batch\":{},\"record_size\":{},"
      "\"seconds\":{:.1f},\"measured\":{},{},{},{},\"before_ack\":{},\"missing\":{},"
      "\"duplicates\":{},\"foreign\":{},\"received\":{},\"renewals\":{},\"retries\":{},"
      "\"errors\":{},\"failed_records\":{},\"late_sends\":{},\"consumer_errors\":{}}}",
      options.consumers, options.rate, put.RecordsPerSecond(), acked, options.batch,
      options.record_size, put.seconds, latencies.counted,
      Percentiles("from_ack", latencies.from_ack_us),
      Percentiles("from_send", latencies.from_send_us),
      Percentiles("put", counters.live.latency_us), latencies.before_ack, latencies.missing,
      duplicates, foreign, received, renewals, retries, put.errors, put.failed_records,
      counters.late_sends.load(), reader_errors.empty() ? 0 : 1);
  fmt::print(stderr,
             "fanout latency, {} consumer(s), {:.0f} records/s acknowledged:\n"
             "  ack -> receipt   {}\n  send -> receipt  {}\n  {} received before the ack, {} "
             "missing, {} duplicates, {} renewals\n",
             options.consumers, put.RecordsPerSecond(), Percentiles("", latencies.from_ack_us),
             Percentiles("", latencies.from_send_us), latencies.before_ack, latencies.missing,
             duplicates, renewals);
  return true;
}

}  // namespace tideline::fanout
