// `tideline pipeline list|status`: the server's GET /pipelines, for people.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/kinesis_client.h"
#include "cli_util.h"
#include "common/json_parse.h"

namespace tideline::cli {
namespace {

struct Totals {
  uint64_t lag = 0;
  int64_t behind_ms = 0;
  uint64_t read = 0, delivered = 0, dropped = 0, failed = 0;
};

Totals Sum(const rapidjson::Value& p) {
  Totals t;
  if (!p.HasMember("shards") || !p["shards"].IsArray()) return t;
  for (const auto& s : p["shards"].GetArray()) {
    t.lag += static_cast<uint64_t>(GetInt64(s, "lag"));
    t.behind_ms = std::max(t.behind_ms, GetInt64(s, "millisBehindLatest"));
    t.read += static_cast<uint64_t>(GetInt64(s, "recordsRead"));
    t.delivered += static_cast<uint64_t>(GetInt64(s, "recordsDelivered"));
    t.dropped += static_cast<uint64_t>(GetInt64(s, "recordsDropped"));
    t.failed += static_cast<uint64_t>(GetInt64(s, "recordsProcessingFailed") +
                                      GetInt64(s, "recordsDeliveryFailed"));
  }
  return t;
}

void PrintList(const rapidjson::Value& pipelines) {
  std::printf("%-24s %-24s %-18s %10s %10s %10s %8s %8s\n", "NAME", "STREAM", "STATE", "LAG",
              "READ", "DELIVERED", "DROPPED", "FAILED");
  for (const auto& p : pipelines.GetArray()) {
    const Totals t = Sum(p);
    std::printf(
        "%-24s %-24s %-18s %10llu %10llu %10llu %8llu %8llu\n", GetString(p, "name").c_str(),
        GetString(p, "stream").c_str(), GetString(p, "state").c_str(),
        static_cast<unsigned long long>(t.lag), static_cast<unsigned long long>(t.read),
        static_cast<unsigned long long>(t.delivered), static_cast<unsigned long long>(t.dropped),
        static_cast<unsigned long long>(t.failed));
  }
}

void PrintStatus(const rapidjson::Value& pipelines) {
  for (const auto& p : pipelines.GetArray()) {
    std::printf("pipeline %s: %s%s%s\n", GetString(p, "name").c_str(),
                GetString(p, "state").c_str(), GetString(p, "message").empty() ? "" : ": ",
                GetString(p, "message").c_str());
    std::printf("  source %s -> %s, buffered %lld records (%s), %lld flushes\n",
                GetString(p, "stream").c_str(), GetString(p, "destination").c_str(),
                static_cast<long long>(GetInt64(p, "bufferedRecords")),
                FormatBytes(static_cast<uint64_t>(GetInt64(p, "bufferedBytes"))).c_str(),
                static_cast<long long>(GetInt64(p, "flushes")));
    if (p.HasMember("delivery") && p["delivery"].IsObject()) {
      const auto& d = p["delivery"];
      std::string statuses;
      if (d.HasMember("documentsByStatus") && d["documentsByStatus"].IsObject()) {
        for (const auto& m : d["documentsByStatus"].GetObject()) {
          statuses += std::string(statuses.empty() ? "" : " ") + m.name.GetString() + ":" +
                      std::to_string(m.value.IsUint64() ? m.value.GetUint64() : 0);
        }
      }
      std::printf("  delivery: %lld requests (%lld failed), %lld documents retried, %s sent%s%s\n",
                  static_cast<long long>(GetInt64(d, "requests")),
                  static_cast<long long>(GetInt64(d, "requestFailures")),
                  static_cast<long long>(GetInt64(d, "documentsRetried")),
                  FormatBytes(static_cast<uint64_t>(GetInt64(d, "bytesSent"))).c_str(),
                  statuses.empty() ? "" : ", documents by status ", statuses.c_str());
    }
    std::printf("  data freshness %lld ms\n",
                static_cast<long long>(GetInt64(p, "dataFreshnessMs")));
    std::printf("  %-22s %-20s %-42s %9s %9s %10s %9s %9s %9s %7s %7s\n", "SHARD", "STATE",
                "CHECKPOINT", "OFFSET", "LAG", "BEHIND_MS", "READ", "DELIVERED", "DROPPED",
                "P_FAIL", "D_FAIL");
    if (!p.HasMember("shards") || !p["shards"].IsArray()) continue;
    for (const auto& s : p["shards"].GetArray()) {
      const std::string cp = GetString(s, "checkpoint");
      const std::string state = GetString(s, "state");
      std::printf("  %-22s %-20s %-42s %9lld %9lld %10lld %9lld %9lld %9lld %7lld %7lld\n",
                  GetString(s, "shardId").c_str(), state.empty() ? "-" : state.c_str(),
                  cp.empty() ? "-" : cp.c_str(),
                  static_cast<long long>(GetInt64(s, "checkpointOffset")),
                  static_cast<long long>(GetInt64(s, "lag")),
                  static_cast<long long>(GetInt64(s, "millisBehindLatest")),
                  static_cast<long long>(GetInt64(s, "recordsRead")),
                  static_cast<long long>(GetInt64(s, "recordsDelivered")),
                  static_cast<long long>(GetInt64(s, "recordsDropped")),
                  static_cast<long long>(GetInt64(s, "recordsProcessingFailed")),
                  static_cast<long long>(GetInt64(s, "recordsDeliveryFailed")));
      // A child shard after a reshard waits until its parents are delivered to their end.
      if (s.HasMember("waitingFor") && s["waitingFor"].IsArray() && !s["waitingFor"].Empty()) {
        std::string parents;
        for (const auto& id : s["waitingFor"].GetArray()) {
          if (id.IsString()) parents += std::string(parents.empty() ? "" : ", ") + id.GetString();
        }
        std::printf("  %-22s waits for %s\n", "", parents.c_str());
      }
    }
  }
}

}  // namespace

int RunPipelineCommand(Command command, const PipelineArgs& args) {
  HttpClient http(args.endpoint, ResolveClientAuth(args.region, args.ca_bundle));
  const std::string path = args.name.empty() ? "/pipelines" : "/pipelines/" + args.name;
  auto response = http.Get(path);
  if (!response.ok()) return Fail(response.status(), kExitFailure);
  if (response->status != 200) return Fail(ErrorStatus(*response), kExitFailure);
  if (args.json) {
    std::cout << response->body << "\n";
    return 0;
  }
  rapidjson::Document doc;
  if (json::ParseJson(doc, response->body, json::kPeerResponseLimits) || !doc.IsObject() ||
      !doc.HasMember("pipelines") || !doc["pipelines"].IsArray()) {
    return Fail(Status::Internal("the server's /pipelines answer is not the expected JSON"),
                kExitFailure);
  }
  if (doc["pipelines"].Empty()) {
    std::cout << "no pipelines are configured on " << args.endpoint << "\n";
    return 0;
  }
  if (command == Command::kPipelineList) {
    PrintList(doc["pipelines"]);
  } else {
    PrintStatus(doc["pipelines"]);
  }
  return 0;
}

int RunPipelineReset(const PipelineArgs& args) {
  std::string body;
  {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("position");
    if (args.at_seq || args.after_seq) {
      WriteString(w, args.at_seq ? "AT_SEQUENCE_NUMBER" : "AFTER_SEQUENCE_NUMBER");
      w.Key("sequenceNumber");
      WriteString(w, args.at_seq ? *args.at_seq : *args.after_seq);
    } else if (args.latest) {
      WriteString(w, "LATEST");
    } else if (args.at_timestamp) {
      const auto ms = ParseTimestampMs(*args.at_timestamp);
      if (!ms) {
        return Fail(Status::InvalidArgument("--at-timestamp: expected epoch seconds or "
                                            "YYYY-MM-DDTHH:MM:SS[.fff]Z, got \"" +
                                            *args.at_timestamp + "\""),
                    kExitUsage);
      }
      WriteString(w, "AT_TIMESTAMP");
      w.Key("timestampMs");
      w.Int64(*ms);
    } else {
      WriteString(w, "TRIM_HORIZON");
    }
    w.EndObject();
    body = buf.GetString();
  }
  HttpClient http(args.endpoint, ResolveClientAuth(args.region, args.ca_bundle));
  auto response = http.Post("/pipelines/" + args.name + "/reset", "application/json", "", body);
  if (!response.ok()) return Fail(response.status(), kExitFailure);
  if (response->status != 200) return Fail(ErrorStatus(*response), kExitFailure);
  rapidjson::Document doc;
  if (json::ParseJson(doc, response->body, json::kPeerResponseLimits) || !doc.IsObject() ||
      !doc.HasMember("pipelines") || !doc["pipelines"].IsArray()) {
    return Fail(Status::Internal("the server's reset answer is not the expected JSON"),
                kExitFailure);
  }
  std::printf("pipeline %s reset; it reads again from:\n", args.name.c_str());
  PrintStatus(doc["pipelines"]);
  return 0;
}

}  // namespace tideline::cli
