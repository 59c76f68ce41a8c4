// Pipeline status as JSON (GET /pipelines, `tideline pipeline status`) and as Prometheus text
// (GET /metrics).
#include <fmt/format.h>

#include "json_sink.h"
#include "pipeline/pipeline.h"

namespace tideline::pipeline {

std::string PipelineStatusJson(const std::vector<PipelineStatus>& statuses) {
  std::string out;
  StringSink sink(out);
  StringWriter w(sink);
  auto str = [&](std::string_view s) { WriteString(w, s); };
  w.StartObject();
  w.Key("pipelines");
  w.StartArray();
  for (const PipelineStatus& p : statuses) {
    w.StartObject();
    w.Key("name");
    str(p.name);
    w.Key("stream");
    str(p.stream);
    w.Key("destination");
    str(p.destination);
    w.Key("state");
    str(p.state);
    w.Key("message");
    str(p.message);
    w.Key("bufferedRecords");
    w.Uint64(p.buffered_records);
    w.Key("bufferedBytes");
    w.Uint64(p.buffered_bytes);
    w.Key("flushes");
    w.Uint64(p.flushes);
    w.Key("readDelayMs");
    w.StartObject();
    w.Key("count");
    w.Uint64(p.read_delay_count);
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
      w.Key("count");
      w.Uint64(p.read_delay_buckets[i]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.Key("shards");
    w.StartArray();
    for (const ShardStatus& s : p.shards) {
      w.StartObject();
      w.Key("shardId");
      str(s.shard_id);
      w.Key("checkpoint");
      str(s.checkpoint);
      w.Key("checkpointOffset");
      w.Uint64(s.checkpoint_offset);
      w.Key("lastOffset");
      w.Uint64(s.last_offset);
      w.Key("lag");
      w.Uint64(s.last_offset > s.checkpoint_offset ? s.last_offset - s.checkpoint_offset : 0);
      w.Key("millisBehindLatest");
      w.Int64(s.millis_behind_latest);
      const ShardCounters& c = s.counters;
      const std::pair<const char*, uint64_t> counters[] = {
          {"recordsRead", c.records_read},
          {"bytesRead", c.bytes_read},
          {"recordsDropped", c.records_dropped},
          {"recordsProcessingFailed", c.records_processing_failed},
          {"recordsDelivered", c.records_delivered},
          {"recordsDeliveryFailed", c.records_delivery_failed},
          {"recordsExpired", c.records_expired},
      };
      for (const auto& [key, value] : counters) {
        w.Key(key);
        w.Uint64(value);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

namespace {

void Counter(std::string& out, std::string_view name, const PipelineStatus& p, const ShardStatus& s,
             uint64_t value) {
  fmt::format_to(std::back_inserter(out), "{}{{pipeline=\"{}\",shard=\"{}\"}} {}\n", name, p.name,
                 s.shard_id, value);
}

}  // namespace

std::string PipelineMetricsText(const std::vector<PipelineStatus>& statuses) {
  std::string out;
  if (statuses.empty()) return out;
  const std::pair<const char*, uint64_t ShardCounters::*> counters[] = {
      {"tideline_pipeline_records_read_total", &ShardCounters::records_read},
      {"tideline_pipeline_bytes_read_total", &ShardCounters::bytes_read},
      {"tideline_pipeline_records_dropped_total", &ShardCounters::records_dropped},
      {"tideline_pipeline_records_processing_failed_total",
       &ShardCounters::records_processing_failed},
      {"tideline_pipeline_records_delivered_total", &ShardCounters::records_delivered},
      {"tideline_pipeline_records_delivery_failed_total", &ShardCounters::records_delivery_failed},
      {"tideline_pipeline_records_expired_total", &ShardCounters::records_expired},
  };
  for (const auto& [name, member] : counters) {
    fmt::format_to(std::back_inserter(out), "# TYPE {} counter\n", name);
    for (const PipelineStatus& p : statuses) {
      for (const ShardStatus& s : p.shards)
        Counter(out, name, p, s, s.counters.*member);
    }
  }
  out += "# TYPE tideline_pipeline_millis_behind_latest gauge\n";
  for (const PipelineStatus& p : statuses) {
    for (const ShardStatus& s : p.shards) {
      Counter(out, "tideline_pipeline_millis_behind_latest", p, s,
              static_cast<uint64_t>(s.millis_behind_latest));
    }
  }
  out += "# TYPE tideline_pipeline_checkpoint_lag_records gauge\n";
  for (const PipelineStatus& p : statuses) {
    for (const ShardStatus& s : p.shards) {
      Counter(out, "tideline_pipeline_checkpoint_lag_records", p, s,
              s.last_offset > s.checkpoint_offset ? s.last_offset - s.checkpoint_offset : 0);
    }
  }
  out += "# TYPE tideline_pipeline_buffered_bytes gauge\n";
  for (const PipelineStatus& p : statuses) {
    fmt::format_to(std::back_inserter(out),
                   "tideline_pipeline_buffered_bytes{{pipeline=\"{}\"}} {}\n", p.name,
                   p.buffered_bytes);
  }
  out += "# TYPE tideline_pipeline_stalled gauge\n";
  for (const PipelineStatus& p : statuses) {
    fmt::format_to(std::back_inserter(out), "tideline_pipeline_stalled{{pipeline=\"{}\"}} {}\n",
                   p.name, p.state == "stalled" ? 1 : 0);
  }
  out += "# TYPE tideline_pipeline_read_delay_ms histogram\n";
  for (const PipelineStatus& p : statuses) {
    for (size_t i = 0; i < p.read_delay_buckets.size(); ++i) {
      const std::string le =
          i < std::size(kReadDelayBucketsMs) ? std::to_string(kReadDelayBucketsMs[i]) : "+Inf";
      fmt::format_to(std::back_inserter(out),
                     "tideline_pipeline_read_delay_ms_bucket{{pipeline=\"{}\",le=\"{}\"}} {}\n",
                     p.name, le, p.read_delay_buckets[i]);
    }
    fmt::format_to(std::back_inserter(out),
                   "tideline_pipeline_read_delay_ms_count{{pipeline=\"{}\"}} {}\n", p.name,
                   p.read_delay_count);
  }
  return out;
}

}  // namespace tideline::pipeline
