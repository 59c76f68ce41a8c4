// API metrics in Prometheus text format: requests by operation and error type, request latency
// (sum/count), records and bytes put and read; and the store's write path (group-commit
// durations, RocksDB's L0 files, compaction debt and write stalls).
//
// Thread-safe: any thread may record; Render() may run concurrently with recording.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/prometheus.h"
#include "common/status.h"
#include "connection_limits.h"
#include "storage/store.h"

namespace tideline::server {

class Metrics {
 public:
  // `error_type` is the Kinesis __type, empty for success. `operation` must come from a bounded
  // set (the dispatcher passes "unknown" for unrecognised targets).
  void RecordRequest(std::string_view operation, std::string_view error_type, double seconds);
  void AddRecordsPut(uint64_t records, uint64_t bytes);
  void AddRecordsRead(uint64_t records, uint64_t bytes);
  // Writes the API's and the store's families; `health` and `store` are the store's Health()
  // and Stats().
  void Render(PrometheusWriter& w, const Status& health, const storage::StoreStats& store) const;

 private:
  struct OpStats {
    uint64_t count = 0;
    double seconds = 0;
  };
  mutable std::mutex mu_;
  // (operation, error type) -> requests; GUARDED_BY(mu_)
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;
  // operation -> latency; GUARDED_BY(mu_)
  std::map<std::string, OpStats, std::less<>> latency_;
  std::atomic<uint64_t> records_put_{0}, bytes_put_{0}, records_read_{0}, bytes_read_{0};
};

// The connection and in-flight-budget counters and gauges of `limits`.
void RenderLimitMetrics(PrometheusWriter& w, const Limits& limits);

}  // namespace tideline::server
