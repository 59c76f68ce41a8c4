// Counters shared by a run's worker threads, progress lines, and the final report.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "latency_histogram.h"

namespace tideline::loadgen {

// Workers update these concurrently (relaxed atomics); the reporter reads them.
struct LiveCounters {
  std::atomic<uint64_t> requests{0};        // requests answered with HTTP 200
  std::atomic<uint64_t> records{0};         // records acknowledged (or read, in replay)
  std::atomic<uint64_t> payload_bytes{0};   // decoded data bytes of those records
  std::atomic<uint64_t> errors{0};          // failed requests: transport, non-200, bad body
  std::atomic<uint64_t> failed_records{0};  // records a 200 PutRecords reported as failed
  LatencyHistogram latency_us;              // per successful request, microseconds
};

// Counts workers out; the reporter waits on it between progress lines.
class WorkerLatch {
 public:
  explicit WorkerLatch(int workers) : remaining_(workers) {}
  void CountDown();
  // Waits until every worker counted down or `until` passes; true if all are done.
  [[nodiscard]] bool WaitUntil(std::chrono::steady_clock::time_point until);

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  int remaining_;  // guarded by mutex_
};

struct RunSummary {
  std::string mode;
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t errors = 0;
  uint64_t failed_records = 0;
  uint64_t p50_us = 0;
  uint64_t p99_us = 0;
  uint64_t max_us = 0;

  [[nodiscard]] double RecordsPerSecond() const;
  // Decimal megabytes (1e6 bytes) of record data per second.
  [[nodiscard]] double MegabytesPerSecond() const;
  // The multi-line human report.
  [[nodiscard]] std::string Text() const;
  // One JSON object on one line, for scripts.
  [[nodiscard]] std::string JsonLine() const;
};

// Prints a progress line to stderr every `interval` until `latch` opens, then returns the
// summary of the whole run measured from `start`. When the workers are still busy
// `grace` after `deadline`, calls `abort` once (to unblock them) and keeps waiting.
template <typename AbortFn>
RunSummary WatchRun(const char* mode, LiveCounters& counters, WorkerLatch& latch,
                    std::chrono::steady_clock::time_point start,
                    std::chrono::steady_clock::time_point deadline,
                    std::chrono::duration<double> interval, AbortFn abort);

// Non-template parts of WatchRun.
void PrintProgress(LiveCounters& counters, HistogramSnapshot& previous, uint64_t& previous_records,
                   uint64_t& previous_bytes, double interval_seconds, double elapsed_seconds);
RunSummary Summarize(const char* mode, LiveCounters& counters, double seconds);

template <typename AbortFn>
RunSummary WatchRun(const char* mode, LiveCounters& counters, WorkerLatch& latch,
                    std::chrono::steady_clock::time_point start,
                    std::chrono::steady_clock::time_point deadline,
                    std::chrono::duration<double> interval, AbortFn abort) {
  using Clock = std::chrono::steady_clock;
  const auto step = std::chrono::duration_cast<Clock::duration>(interval);
  const auto abort_at = deadline + std::chrono::seconds(30);
  HistogramSnapshot previous;
  uint64_t previous_records = 0, previous_bytes = 0;
  auto last = start;
  bool aborted = false;
  while (!latch.WaitUntil(std::min(last + step, aborted ? Clock::time_point::max() : abort_at))) {
    auto now = Clock::now();
    if (!aborted && now >= abort_at) {
      aborted = true;
      abort();
      continue;
    }
    if (now >= last + step) {
      PrintProgress(counters, previous, previous_records, previous_bytes,
                    std::chrono::duration<double>(now - last).count(),
                    std::chrono::duration<double>(now - start).count());
      last = now;
    }
  }
  return Summarize(mode, counters, std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace tideline::loadgen
