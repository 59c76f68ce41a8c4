#include "metrics.h"

#include <fmt/format.h>

namespace tideline::server {

void Metrics::RecordRequest(std::string_view operation, std::string_view error_type,
                            double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{std::string(operation), std::string(error_type.empty() ? "none" : error_type)}];
  auto it = latency_.find(operation);
  if (it == latency_.end()) it = latency_.emplace(std::string(operation), OpStats{}).first;
  ++it->second.count;
  it->second.seconds += seconds;
}

void Metrics::AddRecordsPut(uint64_t records, uint64_t bytes) {
  records_put_.fetch_add(records, std::memory_order_relaxed);
  bytes_put_.fetch_add(bytes, std::memory_order_relaxed);
}

void Metrics::AddRecordsRead(uint64_t records, uint64_t bytes) {
  records_read_.fetch_add(records, std::memory_order_relaxed);
  bytes_read_.fetch_add(bytes, std::memory_order_relaxed);
}

namespace {

void Counter(std::string& out, std::string_view name, std::string_view help, uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
}

void Gauge(std::string& out, std::string_view name, std::string_view help, uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
}

void RenderStore(std::string& out, const storage::StoreStats& s) {
  constexpr std::string_view kCommit = "tideline_store_group_commit_seconds";
  out += fmt::format(
      "# HELP {0} Duration of each group commit: one write batch, its fsync and the memtable "
      "insert.\n# TYPE {0} histogram\n",
      kCommit);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < s.commit_buckets.size(); ++i) {
    cumulative += s.commit_buckets[i];
    if (i < storage::StoreStats::kCommitBuckets.size()) {
      out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", kCommit,
                         storage::StoreStats::kCommitBuckets[i], cumulative);
    } else {
      out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", kCommit, cumulative);
    }
  }
  out +=
      fmt::format("{0}_sum {1:.6f}\n{0}_count {2}\n", kCommit, s.commit_seconds, s.group_commits);
  Counter(out, "tideline_store_committed_records_total", "Records written by group commits.",
          s.committed_records);
  Gauge(out, "tideline_store_l0_files", "Level-0 files of the records column family.", s.l0_files);
  Gauge(out, "tideline_store_pending_compaction_bytes",
        "RocksDB's estimate of the bytes compaction has to rewrite.", s.pending_compaction_bytes);
  Gauge(out, "tideline_store_write_delayed_rate_bytes",
        "Rate RocksDB slows writes to while compaction catches up; 0 when writes are not slowed.",
        s.delayed_write_rate);
  Gauge(out, "tideline_store_write_stopped", "1 while RocksDB stops writes.",
        s.write_stopped ? 1 : 0);
  Gauge(out, "tideline_store_queued_append_bytes",
        "Record bytes waiting for the group-commit writer.", s.queued_append_bytes);
  Counter(out, "tideline_store_throttled_appends_total",
          "Appends refused because the append queue was full (storage.max_queued_append_mib).",
          s.throttled_appends);
  Gauge(out, "tideline_store_disk_free_bytes", "Free bytes on the data directory's filesystem.",
        s.disk_free_bytes);
  Gauge(out, "tideline_store_low_disk",
        "1 while appends are refused for lack of free space (storage.min_free_mib).",
        s.low_disk ? 1 : 0);
  Counter(out, "tideline_store_low_disk_refusals_total",
          "Appends refused for lack of free disk space.", s.low_disk_refusals);
}

}  // namespace

std::string Metrics::Render(const Status& health, const storage::StoreStats& store) const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out +=
        "# HELP tideline_api_requests_total API requests by operation and error type.\n"
        "# TYPE tideline_api_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out += fmt::format("tideline_api_requests_total{{operation=\"{}\",error=\"{}\"}} {}\n",
                         key.first, key.second, n);
    }
    out +=
        "# HELP tideline_api_request_duration_seconds Time from request to response.\n"
        "# TYPE tideline_api_request_duration_seconds summary\n";
    for (const auto& [op, s] : latency_) {
      out += fmt::format(
          "tideline_api_request_duration_seconds_sum{{operation=\"{0}\"}} {1:.6f}\n"
          "tideline_api_request_duration_seconds_count{{operation=\"{0}\"}} {2}\n",
          op, s.seconds, s.count);
    }
  }
  Counter(out, "tideline_records_put_total", "Records acknowledged by PutRecord(s).",
          records_put_.load(std::memory_order_relaxed));
  Counter(out, "tideline_bytes_put_total", "Data plus partition key bytes acknowledged.",
          bytes_put_.load(std::memory_order_relaxed));
  Counter(out, "tideline_records_read_total", "Records returned by GetRecords.",
          records_read_.load(std::memory_order_relaxed));
  Counter(out, "tideline_bytes_read_total", "Data plus partition key bytes returned.",
          bytes_read_.load(std::memory_order_relaxed));
  Gauge(out, "tideline_store_healthy", "1 unless the store has a sticky write error.",
        health.ok() ? 1 : 0);
  RenderStore(out, store);
  return out;
}

std::string RenderLimitMetrics(const Limits& limits) {
  const LimitCounters& c = limits.counters;
  const auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  std::string out;
  Counter(out, "tideline_http_connections_accepted_total", "Connections accepted.",
          get(c.connections_accepted));
  Counter(out, "tideline_http_connections_closed_total", "Connections closed.",
          get(c.connections_closed));
  Counter(out, "tideline_http_connections_overflow_total",
          "Connections accepted over server.max_connections; they may only ask for /health or "
          "/metrics.",
          get(c.connections_overflow));
  Gauge(out, "tideline_http_max_connections", "Connection limit in effect.", limits.gate.max());
  Counter(out, "tideline_http_accept_errors_total",
          "Failed accepts (e.g. out of file descriptors); accepting pauses with backoff.",
          get(c.accept_errors));
  Counter(out, "tideline_http_accept_paused_total",
          "Times accepting paused because every connection slot was taken.", get(c.accept_paused));
  Counter(out, "tideline_http_header_timeouts_total",
          "Connections closed because a request header was not complete within "
          "server.header_timeout_s.",
          get(c.header_timeouts));
  out +=
      "# HELP tideline_http_rejected_total Requests refused from their header alone, by reason.\n"
      "# TYPE tideline_http_rejected_total counter\n";
  out += fmt::format("tideline_http_rejected_total{{reason=\"body_too_large\"}} {}\n",
                     get(c.rejected_body_size));
  out += fmt::format("tideline_http_rejected_total{{reason=\"inflight_bytes\"}} {}\n",
                     get(c.rejected_inflight));
  out += fmt::format("tideline_http_rejected_total{{reason=\"too_many_connections\"}} {}\n",
                     get(c.rejected_overflow));
  Gauge(out, "tideline_http_inflight_bytes",
        "Request and response bytes reserved against server.max_inflight_bytes.",
        limits.budget.used());
  return out;
}

}  // namespace tideline::server
