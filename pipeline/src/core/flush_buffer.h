// The pipeline's buffer between the shard readers and delivery: Firehose buffering hints
// (flush at size_bytes or when the oldest batch is interval old, whichever first) plus
// backpressure (Push blocks while max_bytes are held).
//
// Thread safety: Push from any number of reader threads, Take from the one delivery thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "pipeline/record_batch.h"

namespace tideline::pipeline {

class FlushBuffer {
 public:
  // flush_bytes: data bytes that trigger a flush; interval: age of the oldest batch that
  // triggers one (0: flush whatever is there at once); max_bytes: memory (RecordBatch
  // MemoryBytes) at which Push waits.
  FlushBuffer(size_t flush_bytes, std::chrono::milliseconds interval, size_t max_bytes);

  // Adds a batch; blocks while the buffer is full. Returns false (batch discarded, which is
  // safe: nothing of it was checkpointed) when stop was requested.
  bool Push(std::unique_ptr<RecordBatch> batch, std::stop_token stop);
  // Waits until a flush is due (or stop) and takes every buffered batch, in push order. On stop,
  // returns what is buffered (maybe nothing) at once. The batches' memory still counts against
  // max_bytes until FlushDone, so a flush being delivered holds readers back too.
  std::vector<std::unique_ptr<RecordBatch>> Take(std::stop_token stop);
  void FlushDone();
  // How long the last flushes took to deliver (the delivery thread's moving average). A flush
  // starts that much before the interval is up, at most half the interval early, so that a
  // record is delivered, not merely handed to delivery, within the interval of its arrival.
  void SetDeliveryEstimate(std::chrono::milliseconds estimate);

  struct Stats {
    uint64_t records = 0;
    uint64_t data_bytes = 0;
    uint64_t memory_bytes = 0;
    // Arrival time (ms) of the oldest record buffered or in delivery; 0 when there is none.
    // now - this is Firehose's DataFreshness.
    int64_t oldest_arrival_ms = 0;
    // Pushes waiting for room now: readers held back by max_bytes.
    uint32_t blocked_pushes = 0;
  };
  Stats stats() const;

 private:
  bool FlushDueLocked(std::chrono::steady_clock::time_point now) const;

  const size_t flush_bytes_;
  const std::chrono::milliseconds interval_;
  std::chrono::milliseconds lead_{0};  // GUARDED_BY(mu_); 0 <= lead_ <= interval_ / 2
  const size_t max_bytes_;

  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  std::vector<std::unique_ptr<RecordBatch>> batches_;  // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point oldest_{};     // GUARDED_BY(mu_)
  Stats stats_;                                        // GUARDED_BY(mu_)
  uint64_t in_flight_memory_ = 0;                      // GUARDED_BY(mu_)
  int64_t in_flight_oldest_arrival_ms_ = 0;            // GUARDED_BY(mu_)
};

}  // namespace tideline::pipeline
