// Pipeline status as JSON (GET /pipelines, `tideline pipeline status`) and as Prometheus text
// (GET /metrics).
#include <algorithm>

#include "common/json_write.h"
#include "common/prometheus.h"
#include "pipeline/pipeline.h"

namespace tideline::pipeline {

std::string_view PipelineStateName(PipelineState state) {
  switch (state) {
    case PipelineState::kStarting:
      return "starting";
    case PipelineState::kWaitingForStream:
      return "waiting for stream";
    case PipelineState::kRunning:
      return "running";
    case PipelineState::kRetrying:
      return "retrying";
    case PipelineState::kStalled:
      return "stalled";
    case PipelineState::kStopped:
      return "stopped";
  }
  return "unknown";  // not a PipelineState: every enumerator is handled above (-Wswitch)
}

std::string PipelineStatusJson(const std::vector<PipelineStatus>& statuses) {
  std::string out;
  json::StringAppender sink(out);
  json::StringWriter w(sink);
  auto str = [&](std::string_view s) { json::WriteString(w, s); };
  auto text = [&](const char* key, std::string_view s) {
    w.Key(key);
    str(s);
  };
  auto u64 = [&](const char* key, uint64_t v) {
    w.Key(key);
    w.Uint64(v);
  };
  w.StartObject();
  w.Key("pipelines");
  w.StartArray();
  for (const PipelineStatus& p : statuses) {
    w.StartObject();
    text("name", p.name);
    text("stream", p.stream);
    text("destination", p.destination);
    text("state", PipelineStateName(p.state));
    text("message", p.message);
    u64("bufferedRecords", p.buffered_records);
    u64("bufferedBytes", p.buffered_bytes);
    u64("flushes", p.flushes);
    w.Key("dataFreshnessMs");
    w.Int64(p.data_freshness_ms);
    w.Key("backup");
    w.StartObject();
    u64("processingFailed", p.backup_processing_failed);
    u64("deliveryFailed", p.backup_delivery_failed);
    u64("allDocuments", p.backup_all_documents);
    w.EndObject();
    const DestinationCounters& dc = p.destination_counters;
    w.Key("delivery");
    w.StartObject();
    text("type", p.destination_type);
    u64("requests", dc.requests);
    u64("requestFailures", dc.request_failures);
    u64("documentsRetried", dc.documents_retried);
    u64("bytesSent", dc.bytes_sent);
    w.Key("documentsByStatus");
    w.StartObject();
    for (const auto& [status, n] : dc.documents_by_status) {
      w.Key(status.c_str(), static_cast<rapidjson::SizeType>(status.size()));
      w.Uint64(n);
    }
    w.EndObject();
    w.EndObject();
    w.Key("readDelayMs");
    w.StartObject();
    u64("count", p.read_delay_count);
    w.Key("buckets");
    w.StartArray();
    for (size_t i = 0; i < p.read_delay_buckets.size(); ++i) {
      w.StartObject();
      w.Key("le");
      if (i < std::size(kReadDelayBucketsMs)) {
        w.Int64(kReadDelayBucketsMs[i]);
      } else {
        str("+Inf");
      }
      u64("count", p.read_delay_buckets[i]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.Key("shards");
    w.StartArray();
    for (const ShardStatus& s : p.shards) {
      w.StartObject();
      text("shardId", s.shard_id);
      text("state", s.state);
      text("lastError", s.last_error);
      w.Key("waitingFor");
      w.StartArray();
      for (const std::string& parent : s.waiting_for)
        str(parent);
      w.EndArray();
      text("checkpoint", s.checkpoint);
      u64("checkpointOffset", s.checkpoint_offset);
      u64("lastOffset", s.last_offset);
      u64("lag", s.last_offset > s.checkpoint_offset ? s.last_offset - s.checkpoint_offset : 0);
      w.Key("millisBehindLatest");
      w.Int64(s.millis_behind_latest);
      const ShardCounters& c = s.counters;
      const std::pair<const char*, uint64_t> counters[] = {
          {"recordsRead", c.records_read},
          {"bytesRead", c.bytes_read},
          {"recordsTransformed", c.records_transformed},
          {"recordsDropped", c.records_dropped},
          {"recordsProcessingFailed", c.records_processing_failed},
          {"recordsDelivered", c.records_delivered},
          {"recordsDeliveryFailed", c.records_delivery_failed},
          {"recordsExpired", c.records_expired},
          {"readErrors", c.read_errors},
      };
      for (const auto& [key, value] : counters)
        u64(key, value);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

std::string PipelineMetricsText(const std::vector<PipelineStatus>& statuses) {
  PrometheusWriter w;
  WritePipelineMetrics(w, statuses);
  return w.Take();
}

void WritePipelineMetrics(PrometheusWriter& w, const std::vector<PipelineStatus>& statuses) {
  if (statuses.empty()) return;
  // One sample per shard of every pipeline.
  const auto per_shard = [&](std::string_view name, std::string_view type, auto value) {
    w.Family(name, type, "");
    for (const PipelineStatus& p : statuses) {
      for (const ShardStatus& s : p.shards)
        w.Sample(name, {{"pipeline", p.name}, {"shard", s.shard_id}}, uint64_t{value(p, s)});
    }
  };
  // One sample per pipeline.
  const auto per_pipeline = [&](std::string_view name, std::string_view type, auto value) {
    w.Family(name, type, "");
    for (const PipelineStatus& p : statuses)
      w.Sample(name, {{"pipeline", p.name}}, uint64_t{value(p)});
  };
  const std::pair<const char*, uint64_t ShardCounters::*> counters[] = {
      {"tideline_pipeline_records_read_total", &ShardCounters::records_read},
      {"tideline_pipeline_bytes_read_total", &ShardCounters::bytes_read},
      {"tideline_pipeline_records_transformed_total", &ShardCounters::records_transformed},
      {"tideline_pipeline_records_dropped_total", &ShardCounters::records_dropped},
      {"tideline_pipeline_records_processing_failed_total",
       &ShardCounters::records_processing_failed},
      {"tideline_pipeline_records_delivered_total", &ShardCounters::records_delivered},
      {"tideline_pipeline_records_delivery_failed_total", &ShardCounters::records_delivery_failed},
      {"tideline_pipeline_records_expired_total", &ShardCounters::records_expired},
      {"tideline_pipeline_read_errors_total", &ShardCounters::read_errors},
  };
  for (const auto& counter : counters) {
    // A copy: clang 14 cannot capture a structured binding in a lambda.
    const auto member = counter.second;
    per_shard(counter.first, "counter",
              [member](const PipelineStatus&, const ShardStatus& s) { return s.counters.*member; });
  }
  // 1 while the shard's reads fail (state "read_failing"), so an alert needs no rate().
  per_shard("tideline_pipeline_read_failing", "gauge",
            [](const PipelineStatus&, const ShardStatus& s) {
              return uint64_t{s.state == "read_failing" ? 1u : 0u};
            });
  // Shards whose reader waits for its parents to be delivered to their end, and closed shards
  // delivered to their end.
  const auto shards_in = [&](std::string_view name, std::string_view state) {
    per_pipeline(name, "gauge", [state](const PipelineStatus& p) {
      return static_cast<uint64_t>(
          std::count_if(p.shards.begin(), p.shards.end(),
                        [&](const ShardStatus& s) { return s.state == state; }));
    });
  };
  shards_in("tideline_pipeline_shards_waiting_for_parents", "waiting_for_parents");
  shards_in("tideline_pipeline_shards_finished", "finished");
  per_shard("tideline_pipeline_millis_behind_latest", "gauge",
            [](const PipelineStatus&, const ShardStatus& s) {
              return static_cast<uint64_t>(s.millis_behind_latest);
            });
  per_shard("tideline_pipeline_checkpoint_lag_records", "gauge",
            [](const PipelineStatus&, const ShardStatus& s) {
              return s.last_offset > s.checkpoint_offset ? s.last_offset - s.checkpoint_offset
                                                         : uint64_t{0};
            });
  per_pipeline("tideline_pipeline_buffered_bytes", "gauge",
               [](const PipelineStatus& p) { return uint64_t{p.buffered_bytes}; });
  per_pipeline("tideline_pipeline_retrying", "gauge", [](const PipelineStatus& p) {
    return uint64_t{p.state == PipelineState::kRetrying ? 1u : 0u};
  });
  per_pipeline("tideline_pipeline_stalled", "gauge", [](const PipelineStatus& p) {
    return uint64_t{p.state == PipelineState::kStalled ? 1u : 0u};
  });
  per_pipeline("tideline_pipeline_data_freshness_ms", "gauge",
               [](const PipelineStatus& p) { return static_cast<uint64_t>(p.data_freshness_ms); });
  w.Family("tideline_pipeline_backup_documents_total", "counter", "");
  for (const PipelineStatus& p : statuses) {
    const std::pair<const char*, uint64_t> kinds[] = {
        {"processing-failed", p.backup_processing_failed},
        {"delivery-failed", p.backup_delivery_failed},
        {"all", p.backup_all_documents}};
    for (const auto& [kind, n] : kinds) {
      w.Sample("tideline_pipeline_backup_documents_total", {{"pipeline", p.name}, {"kind", kind}},
               n);
    }
  }
  const std::pair<const char*, uint64_t DestinationCounters::*> delivery[] = {
      {"tideline_pipeline_delivery_requests_total", &DestinationCounters::requests},
      {"tideline_pipeline_delivery_request_failures_total", &DestinationCounters::request_failures},
      {"tideline_pipeline_delivery_documents_retried_total",
       &DestinationCounters::documents_retried},
      {"tideline_pipeline_delivery_bytes_sent_total", &DestinationCounters::bytes_sent},
  };
  for (const auto& [name, member] : delivery) {
    w.Family(name, "counter", "");
    for (const PipelineStatus& p : statuses) {
      w.Sample(name, {{"pipeline", p.name}, {"destination", p.destination_type}},
               p.destination_counters.*member);
    }
  }
  w.Family("tideline_pipeline_delivery_documents_total", "counter", "");
  for (const PipelineStatus& p : statuses) {
    for (const auto& [status, n] : p.destination_counters.documents_by_status) {
      w.Sample("tideline_pipeline_delivery_documents_total",
               {{"pipeline", p.name}, {"destination", p.destination_type}, {"status", status}}, n);
    }
  }
  w.Family("tideline_pipeline_read_delay_ms", "histogram", "");
  for (const PipelineStatus& p : statuses) {
    for (size_t i = 0; i < p.read_delay_buckets.size(); ++i) {
      const std::string le =
          i < std::size(kReadDelayBucketsMs) ? std::to_string(kReadDelayBucketsMs[i]) : "+Inf";
      w.Sample("tideline_pipeline_read_delay_ms_bucket", {{"pipeline", p.name}, {"le", le}},
               p.read_delay_buckets[i]);
    }
    w.Sample("tideline_pipeline_read_delay_ms_count", {{"pipeline", p.name}}, p.read_delay_count);
  }
}

}  // namespace tideline::pipeline
