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

void RenderStore(PrometheusWriter& w, const storage::StoreStats& s) {
  constexpr std::string_view kCommit = "tideline_store_group_commit_seconds";
  w.Family(kCommit, "histogram",
           "Duration of each group commit: one write batch, its fsync and the memtable insert.");
  const std::string bucket = fmt::format("{}_bucket", kCommit);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < s.commit_buckets.size(); ++i) {
    cumulative += s.commit_buckets[i];
    const std::string le = i < storage::StoreStats::kCommitBuckets.size()
                               ? fmt::format("{}", storage::StoreStats::kCommitBuckets[i])
                               : std::string("+Inf");
    w.Sample(bucket, {{"le", le}}, cumulative);
  }
  w.Sample(fmt::format("{}_sum", kCommit), {}, s.commit_seconds);
  w.Sample(fmt::format("{}_count", kCommit), {}, s.group_commits);
  w.Counter("tideline_store_committed_records_total", "Records written by group commits.",
            s.committed_records);
  w.Gauge("tideline_store_l0_files", "Level-0 files of the records column family.", s.l0_files);
  w.Gauge("tideline_store_pending_compaction_bytes",
          "RocksDB's estimate of the bytes compaction has to rewrite.", s.pending_compaction_bytes);
  w.Gauge("tideline_store_write_delayed_rate_bytes",
          "Rate RocksDB slows writes to while compaction catches up; 0 when writes are not slowed.",
          s.delayed_write_rate);
  w.Gauge("tideline_store_write_stopped", "1 while RocksDB stops writes.", s.write_stopped ? 1 : 0);
  w.Gauge("tideline_store_queued_append_bytes", "Record bytes waiting for the group-commit writer.",
          s.queued_append_bytes);
  w.Counter("tideline_store_throttled_appends_total",
            "Appends refused because the append queue was full (storage.max_queued_append_mib).",
            s.throttled_appends);
  w.Gauge("tideline_store_disk_free_bytes", "Free bytes on the data directory's filesystem.",
          s.disk_free_bytes);
  w.Gauge("tideline_store_low_disk",
          "1 while appends are refused for lack of free space (storage.min_free_mib).",
          s.low_disk ? 1 : 0);
  w.Counter("tideline_store_low_disk_refusals_total",
            "Appends refused for lack of free disk space.", s.low_disk_refusals);
}

}  // namespace

void Metrics::Render(PrometheusWriter& w, const Status& health,
                     const storage::StoreStats& store) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    w.Family("tideline_api_requests_total", "counter", "API requests by operation and error type.");
    for (const auto& [key, n] : requests_) {
      w.Sample("tideline_api_requests_total", {{"operation", key.first}, {"error", key.second}}, n);
    }
    w.Family("tideline_api_request_duration_seconds", "summary", "Time from request to response.");
    for (const auto& [op, s] : latency_) {
      w.Sample("tideline_api_request_duration_seconds_sum", {{"operation", op}}, s.seconds);
      w.Sample("tideline_api_request_duration_seconds_count", {{"operation", op}}, s.count);
    }
  }
  w.Counter("tideline_records_put_total", "Records acknowledged by PutRecord(s).",
            records_put_.load(std::memory_order_relaxed));
  w.Counter("tideline_bytes_put_total", "Data plus partition key bytes acknowledged.",
            bytes_put_.load(std::memory_order_relaxed));
  w.Counter("tideline_records_read_total", "Records returned by GetRecords.",
            records_read_.load(std::memory_order_relaxed));
  w.Counter("tideline_bytes_read_total", "Data plus partition key bytes returned.",
            bytes_read_.load(std::memory_order_relaxed));
  w.Gauge("tideline_store_healthy", "1 unless the store has a sticky write error.",
          health.ok() ? 1 : 0);
  RenderStore(w, store);
}

void RenderLimitMetrics(PrometheusWriter& w, const Limits& limits) {
  const LimitCounters& c = limits.counters;
  const auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  w.Counter("tideline_http_connections_accepted_total", "Connections accepted.",
            get(c.connections_accepted));
  w.Counter("tideline_http_connections_closed_total", "Connections closed.",
            get(c.connections_closed));
  w.Counter("tideline_http_connections_overflow_total",
            "Connections accepted over server.max_connections; they may only ask for /health or "
            "/metrics.",
            get(c.connections_overflow));
  w.Gauge("tideline_http_max_connections", "Connection limit in effect.", limits.gate.max());
  w.Counter("tideline_http_accept_errors_total",
            "Failed accepts (e.g. out of file descriptors); accepting pauses with backoff.",
            get(c.accept_errors));
  w.Counter("tideline_http_accept_paused_total",
            "Times accepting paused because every connection slot was taken.",
            get(c.accept_paused));
  w.Counter("tideline_http_header_timeouts_total",
            "Connections closed because a request header was not complete within "
            "server.header_timeout_s.",
            get(c.header_timeouts));
  constexpr std::string_view kRejected = "tideline_http_rejected_total";
  w.Family(kRejected, "counter", "Requests refused from their header alone, by reason.");
  w.Sample(kRejected, {{"reason", "body_too_large"}}, get(c.rejected_body_size));
  w.Sample(kRejected, {{"reason", "inflight_bytes"}}, get(c.rejected_inflight));
  w.Sample(kRejected, {{"reason", "too_many_connections"}}, get(c.rejected_overflow));
  w.Gauge("tideline_http_inflight_bytes",
          "Request and response bytes reserved against server.max_inflight_bytes.",
          limits.budget.used());
  w.Counter("tideline_http2_connections_total",
            "Connections speaking HTTP/2: h2c with prior knowledge, or h2 chosen by ALPN.",
            get(c.h2_connections));
  w.Counter("tideline_http2_connections_closed_total", "HTTP/2 connections closed.",
            get(c.h2_connections_closed));
  w.Counter("tideline_http2_streams_total", "HTTP/2 streams (requests) opened.", get(c.h2_streams));
  w.Counter("tideline_http2_streams_closed_total", "HTTP/2 streams closed.",
            get(c.h2_streams_closed));
  w.Counter("tideline_http2_streams_reset_total", "HTTP/2 streams the client reset (RST_STREAM).",
            get(c.h2_streams_reset));
  w.Counter("tideline_http2_stream_timeouts_total",
            "HTTP/2 streams reset because a request body or a response took longer than "
            "server.idle_timeout_s.",
            get(c.h2_stream_timeouts));
  constexpr std::string_view kGoaway = "tideline_http2_goaway_errors_total";
  w.Family(kGoaway, "counter",
           "HTTP/2 connections ended for the client's fault, by reason: enhance_your_calm (a "
           "flood of frames), protocol_error (anything else).");
  w.Sample(kGoaway, {{"reason", "enhance_your_calm"}}, get(c.h2_calm));
  w.Sample(kGoaway, {{"reason", "protocol_error"}}, get(c.h2_protocol_errors));
  w.Counter("tideline_tls_handshakes_total", "TLS handshakes completed (server.tls).",
            get(c.tls_handshakes));
  constexpr std::string_view kHandshakeFailed = "tideline_tls_handshake_failures_total";
  w.Family(kHandshakeFailed, "counter",
           "Connections closed because their TLS handshake failed, by reason.");
  w.Sample(kHandshakeFailed, {{"reason", "error"}}, get(c.tls_handshake_failures));
  w.Sample(kHandshakeFailed, {{"reason", "timeout"}}, get(c.tls_handshake_timeouts));
  constexpr std::string_view kReloads = "tideline_tls_reloads_total";
  w.Family(kReloads, "counter",
           "TLS certificate reloads (SIGHUP), by result; a failed one keeps the previous "
           "certificate.");
  w.Sample(kReloads, {{"result", "ok"}}, get(c.tls_reloads));
  w.Sample(kReloads, {{"result", "error"}}, get(c.tls_reload_failures));
}

}  // namespace tideline::server
