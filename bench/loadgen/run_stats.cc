#include "run_stats.h"

#include <algorithm>

#include <fmt/format.h>

namespace tideline::loadgen {
namespace {

double Ms(uint64_t micros) {
  return static_cast<double>(micros) / 1000.0;
}

}  // namespace

void WorkerLatch::CountDown() {
  std::lock_guard lock(mutex_);
  if (--remaining_ <= 0) done_.notify_all();
}

bool WorkerLatch::WaitUntil(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  return done_.wait_until(lock, until, [this] { return remaining_ <= 0; });
}

double RunSummary::RecordsPerSecond() const {
  return seconds > 0 ? static_cast<double>(records) / seconds : 0;
}

double RunSummary::MegabytesPerSecond() const {
  return seconds > 0 ? static_cast<double>(payload_bytes) / 1e6 / seconds : 0;
}

std::string RunSummary::Text() const {
  return fmt::format(
      "{} finished in {:.1f} s\n"
      "  records      {} ({:.0f} records/s)\n"
      "  payload      {:.1f} MB ({:.1f} MB/s)\n"
      "  requests     {} ok, {} failed, {} records rejected\n"
      "  latency      p50 {:.3f} ms  p99 {:.3f} ms  max {:.3f} ms\n",
      mode, seconds, records, RecordsPerSecond(), static_cast<double>(payload_bytes) / 1e6,
      MegabytesPerSecond(), requests, errors, failed_records, Ms(p50_us), Ms(p99_us), Ms(max_us));
}

std::string RunSummary::JsonLine() const {
  return fmt::format(
      "{{\"mode\":\"{}\",\"seconds\":{:.3f},\"requests\":{},\"records\":{},"
      "\"payload_bytes\":{},\"records_per_s\":{:.1f},\"mb_per_s\":{:.2f},\"errors\":{},"
      "\"failed_records\":{},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f},\"max_ms\":{:.3f}}}",
      mode, seconds, requests, records, payload_bytes, RecordsPerSecond(), MegabytesPerSecond(),
      errors, failed_records, Ms(p50_us), Ms(p99_us), Ms(max_us));
}

void PrintProgress(LiveCounters& counters, HistogramSnapshot& previous, uint64_t& previous_records,
                   uint64_t& previous_bytes, double interval_seconds, double elapsed_seconds) {
  HistogramSnapshot now = counters.latency_us.Take();
  HistogramSnapshot interval = now.Minus(previous);
  uint64_t records = counters.records.load(std::memory_order_relaxed);
  uint64_t bytes = counters.payload_bytes.load(std::memory_order_relaxed);
  uint64_t max = counters.latency_us.TakeIntervalMax();
  fmt::print(stderr,
             "[{:6.1f} s] {:9.0f} records/s {:7.1f} MB/s  p50 {:.3f} ms  p99 {:.3f} ms  "
             "max {:.3f} ms  errors {} rejected {}\n",
             elapsed_seconds, static_cast<double>(records - previous_records) / interval_seconds,
             static_cast<double>(bytes - previous_bytes) / 1e6 / interval_seconds,
             Ms(std::min(interval.Percentile(0.50), max)),
             Ms(std::min(interval.Percentile(0.99), max)), Ms(max),
             counters.errors.load(std::memory_order_relaxed),
             counters.failed_records.load(std::memory_order_relaxed));
  previous = std::move(now);
  previous_records = records;
  previous_bytes = bytes;
}

RunSummary Summarize(const char* mode, LiveCounters& counters, double seconds) {
  HistogramSnapshot all = counters.latency_us.Take();
  RunSummary summary;
  summary.mode = mode;
  summary.seconds = seconds;
  summary.requests = counters.requests.load();
  summary.records = counters.records.load();
  summary.payload_bytes = counters.payload_bytes.load();
  summary.errors = counters.errors.load();
  summary.failed_records = counters.failed_records.load();
  summary.max_us = counters.latency_us.Max();
  // Bucket midpoints can lie above the exact maximum; a percentile never does.
  summary.p50_us = std::min(all.Percentile(0.50), summary.max_us);
  summary.p99_us = std::min(all.Percentile(0.99), summary.max_us);
  return summary;
}

}  // namespace tideline::loadgen
