#include "core/flush_buffer.h"

#include <algorithm>

namespace tideline::pipeline {

FlushBuffer::FlushBuffer(size_t flush_bytes, std::chrono::milliseconds interval, size_t max_bytes)
    : flush_bytes_(flush_bytes), interval_(interval), max_bytes_(max_bytes) {}

bool FlushBuffer::Push(std::unique_ptr<RecordBatch> batch, std::stop_token stop) {
  const size_t data = batch->raw_bytes();
  const size_t memory = batch->MemoryBytes();
  const int64_t oldest = batch->oldest_arrival_ms();
  std::unique_lock<std::mutex> lock(mu_);
  // An empty buffer with nothing in flight always takes a batch, so one batch larger than
  // max_bytes cannot block forever.
  const auto room = [&] {
    return (batches_.empty() && in_flight_memory_ == 0) ||
           stats_.memory_bytes + in_flight_memory_ < max_bytes_;
  };
  if (!room()) {
    ++stats_.blocked_pushes;
    const bool admitted = changed_.wait(lock, stop, room);
    --stats_.blocked_pushes;
    if (!admitted) return false;
  }
  if (batches_.empty()) oldest_ = std::chrono::steady_clock::now();
  stats_.records += batch->records().size();
  stats_.data_bytes += data;
  stats_.memory_bytes += memory;
  if (oldest != 0 && (stats_.oldest_arrival_ms == 0 || oldest < stats_.oldest_arrival_ms)) {
    stats_.oldest_arrival_ms = oldest;
  }
  batches_.push_back(std::move(batch));
  lock.unlock();
  changed_.notify_all();
  return true;
}

bool FlushBuffer::FlushDueLocked(std::chrono::steady_clock::time_point now) const {
  if (batches_.empty()) return false;
  return stats_.data_bytes >= flush_bytes_ || now - oldest_ >= interval_ - lead_ ||
         stats_.memory_bytes >= max_bytes_;
}

std::vector<std::unique_ptr<RecordBatch>> FlushBuffer::Take(std::stop_token stop) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop.stop_requested() && !FlushDueLocked(std::chrono::steady_clock::now())) {
    if (batches_.empty()) {
      changed_.wait(lock, stop, [&] { return !batches_.empty(); });
    } else {
      changed_.wait_until(lock, stop, oldest_ + interval_ - lead_,
                          [&] { return FlushDueLocked(std::chrono::steady_clock::now()); });
    }
  }
  std::vector<std::unique_ptr<RecordBatch>> out;
  out.swap(batches_);
  in_flight_memory_ += stats_.memory_bytes;
  in_flight_oldest_arrival_ms_ = stats_.oldest_arrival_ms;
  stats_ = Stats{};
  lock.unlock();
  changed_.notify_all();
  return out;
}

void FlushBuffer::FlushDone() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_memory_ = 0;
    in_flight_oldest_arrival_ms_ = 0;
  }
  changed_.notify_all();
}

void FlushBuffer::SetDeliveryEstimate(std::chrono::milliseconds estimate) {
  std::lock_guard<std::mutex> lock(mu_);
  lead_ = std::clamp(estimate, std::chrono::milliseconds(0), interval_ / 2);
}

FlushBuffer::Stats FlushBuffer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  if (in_flight_oldest_arrival_ms_ != 0 &&
      (s.oldest_arrival_ms == 0 || in_flight_oldest_arrival_ms_ < s.oldest_arrival_ms)) {
    s.oldest_arrival_ms = in_flight_oldest_arrival_ms_;
  }
  return s;
}

}  // namespace tideline::pipeline
