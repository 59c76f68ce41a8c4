#include "latency_histogram.h"

#include <bit>
#include <cmath>

namespace tideline::loadgen {
namespace {

void RaiseTo(std::atomic<uint64_t>& target, uint64_t value) {
  uint64_t seen = target.load(std::memory_order_relaxed);
  while (seen < value && !target.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

}  // namespace

size_t HistogramBuckets::IndexOf(uint64_t value) {
  if (value < kExact) return static_cast<size_t>(value);
  // Highest set bit is >= 7; keep the 7 leading bits (64..127) as the sub-bucket.
  int msb = 63 - std::countl_zero(value);
  int shift = msb - 6;
  uint64_t sub = value >> shift;
  return kExact + static_cast<size_t>(msb - 7) * kSubBuckets + static_cast<size_t>(sub - 64);
}

uint64_t HistogramBuckets::ValueOf(size_t index) {
  if (index < kExact) return index;
  size_t rel = index - kExact;
  int shift = static_cast<int>(rel / kSubBuckets) + 1;
  uint64_t sub = 64 + rel % kSubBuckets;
  uint64_t low = sub << shift;
  return low + ((uint64_t{1} << shift) >> 1);
}

uint64_t HistogramSnapshot::Total() const {
  uint64_t total = 0;
  for (uint64_t c : counts)
    total += c;
  return total;
}

uint64_t HistogramSnapshot::Percentile(double q) const {
  uint64_t total = Total();
  if (total == 0) return 0;
  // The smallest value such that at least q of the samples are at or below it.
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) return HistogramBuckets::ValueOf(i);
  }
  return HistogramBuckets::ValueOf(counts.size() - 1);
}

HistogramSnapshot HistogramSnapshot::Minus(const HistogramSnapshot& earlier) const {
  HistogramSnapshot out;
  for (size_t i = 0; i < counts.size(); ++i) {
    out.counts[i] = counts[i] >= earlier.counts[i] ? counts[i] - earlier.counts[i] : 0;
  }
  return out;
}

void LatencyHistogram::Record(uint64_t value) {
  counts_[HistogramBuckets::IndexOf(value)].fetch_add(1, std::memory_order_relaxed);
  RaiseTo(max_, value);
  RaiseTo(interval_max_, value);
}

HistogramSnapshot LatencyHistogram::Take() const {
  HistogramSnapshot snapshot;
  for (size_t i = 0; i < counts_.size(); ++i) {
    snapshot.counts[i] = counts_[i].load(std::memory_order_relaxed);
  }
  return snapshot;
}

uint64_t LatencyHistogram::TakeIntervalMax() {
  return interval_max_.exchange(0, std::memory_order_relaxed);
}

}  // namespace tideline::loadgen
