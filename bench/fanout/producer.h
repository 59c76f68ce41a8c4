// The latency run's producer: PutRecords batches of records that carry their ids, offered at a
// fixed rate (open loop), with each record's send and acknowledgement times logged.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fanout_options.h"
#include "http_connection.h"
#include "run_stats.h"

namespace tideline::fanout {

using Clock = std::chrono::steady_clock;

// Per-record times of a run in nanoseconds since its start, plus one (0: not yet), indexed by
// record id. Each slot is written by one thread (sent and acked by the producer connection
// that sent the record, received[c] by consumer c) and read by others only after they joined.
struct RecordLog {
  RecordLog(uint64_t capacity, int consumers)
      : sent(capacity, 0), acked(capacity, 0), received(static_cast<size_t>(consumers)) {
    for (auto& r : received)
      r.assign(capacity, 0);
  }
  uint64_t capacity() const { return sent.size(); }

  std::vector<int64_t> sent;
  std::vector<int64_t> acked;
  std::vector<std::vector<int64_t>> received;
};

// A PutRecords body of `batch` records whose ids are patched in before each send.
struct BatchTemplate {
  std::string body;
  // Where each record's 24 id characters start in `body`.
  std::vector<size_t> id_offsets;
};

// Records of options.record_size bytes: the id's 18 hex digits, then random letters.
[[nodiscard]] BatchTemplate BuildBatchTemplate(const FanoutOptions& options, uint64_t seed);

// Writes ids first_id, first_id + 1, ... into the template's records.
void PatchIds(BatchTemplate& batch, uint64_t first_id);

struct ProducerCounters {
  // requests: PutRecords answered 200 with no failed record; records, payload_bytes: records
  // acknowledged; errors: failed requests; failed_records: records of requests that did not
  // fully succeed; latency_us: PutRecords acknowledgement.
  loadgen::LiveCounters live;
  std::atomic<uint64_t> next_id{0};     // ids handed out (records sent or being sent)
  std::atomic<uint64_t> late_sends{0};  // sends more than a batch interval behind schedule
};

// One producer connection: sends its share of options.rate from `first_send` until `deadline`
// or `stop`, taking ids from counters.next_id while they fit in the log, whose times count
// from `log_base`.
void RunProducerConnection(const FanoutOptions& options, int connection,
                           loadgen::HttpConnection& http, Clock::time_point log_base,
                           Clock::time_point first_send, Clock::time_point deadline,
                           const std::atomic<bool>& stop, RecordLog& log,
                           ProducerCounters& counters);

// Nanoseconds since `start`, plus one, as RecordLog keeps them.
inline int64_t LogTime(Clock::time_point start, Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - start).count() + 1;
}

}  // namespace tideline::fanout
