// A lock-free latency histogram with log-linear buckets (HdrHistogram-like, ~1.6% precision).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tideline::loadgen {

// Values below 128 have exact buckets; above, each power of two is split in 64 buckets.
class HistogramBuckets {
 public:
  static constexpr size_t kExact = 128;
  static constexpr size_t kSubBuckets = 64;
  static constexpr size_t kCount = kExact + (64 - 7) * kSubBuckets;

  [[nodiscard]] static size_t IndexOf(uint64_t value);
  // A value inside bucket `index` (its midpoint) used when reporting percentiles.
  [[nodiscard]] static uint64_t ValueOf(size_t index);
};

// Counts of a histogram at one moment; differences of two snapshots describe an interval.
struct HistogramSnapshot {
  std::vector<uint64_t> counts = std::vector<uint64_t>(HistogramBuckets::kCount, 0);

  [[nodiscard]] uint64_t Total() const;
  // The value at quantile q in [0, 1] (bucket midpoint); 0 for an empty snapshot.
  [[nodiscard]] uint64_t Percentile(double q) const;
  // Counts recorded after `earlier` was taken.
  [[nodiscard]] HistogramSnapshot Minus(const HistogramSnapshot& earlier) const;
};

// Record() may run concurrently from any number of threads with each other and with Take()
// and TakeIntervalMax(); a snapshot taken during recording is consistent per bucket only.
class LatencyHistogram {
 public:
  void Record(uint64_t value);
  [[nodiscard]] HistogramSnapshot Take() const;
  // Largest value recorded since the previous call (exact), and resets it.
  [[nodiscard]] uint64_t TakeIntervalMax();
  // Largest value recorded ever (exact).
  [[nodiscard]] uint64_t Max() const { return max_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, HistogramBuckets::kCount> counts_{};
  std::atomic<uint64_t> max_{0};
  std::atomic<uint64_t> interval_max_{0};
};

}  // namespace tideline::loadgen
