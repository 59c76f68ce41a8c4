// `tideline stream create|list|describe|delete`.
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/kinesis_client.h"
#include "cli_util.h"

namespace tideline::cli {
namespace {

std::string StreamRequest(const std::string& name, const std::function<void(JsonWriter&)>& more) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("StreamName");
  WriteString(w, name);
  if (more) more(w);
  w.EndObject();
  return buf.GetString();
}

// Waits until the stream is ACTIVE (CreateStream may return while it is CREATING).
Status WaitActive(KinesisClient& client, const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto r = client.CallWithRetry("DescribeStreamSummary", StreamRequest(name, nullptr));
    if (!r.ok()) return r.status();
    const auto& d = (*r)["StreamDescriptionSummary"];
    if (GetString(d, "StreamStatus") == "ACTIVE") return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("stream " + name + " is not ACTIVE after 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int Create(KinesisClient& client, const StreamArgs& a) {
  auto r = client.CallWithRetry("CreateStream", StreamRequest(a.name, [&](JsonWriter& w) {
                                  w.Key("ShardCount");
                                  w.Int(a.shards);
                                }));
  if (!r.ok()) return Fail(r.status(), kExitFailure);
  if (Status st = WaitActive(client, a.name); !st.ok()) return Fail(st, kExitFailure);
  if (a.retention_hours && *a.retention_hours != 24) {
    auto ret = client.CallWithRetry("IncreaseStreamRetentionPeriod",
                                    StreamRequest(a.name, [&](JsonWriter& w) {
                                      w.Key("RetentionPeriodHours");
                                      w.Int(*a.retention_hours);
                                    }));
    if (!ret.ok()) return Fail(ret.status(), kExitFailure);
  }
  std::cout << "created stream " << a.name << " with " << a.shards
            << (a.shards == 1 ? " shard" : " shards") << ", retention "
            << a.retention_hours.value_or(24) << " hours\n";
  return 0;
}

int List(KinesisClient& client) {
  std::string start;
  for (;;) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("Limit");
    w.Int(1000);
    if (!start.empty()) {
      w.Key("ExclusiveStartStreamName");
      WriteString(w, start);
    }
    w.EndObject();
    auto r = client.CallWithRetry("ListStreams", buf.GetString());
    if (!r.ok()) return Fail(r.status(), kExitFailure);
    const auto& names = (*r)["StreamNames"];
    if (!names.IsArray()) break;
    for (const auto& n : names.GetArray()) {
      if (!n.IsString()) continue;
      start = n.GetString();
      std::cout << start << "\n";
    }
    if (!GetBool(*r, "HasMoreStreams") || names.Empty()) break;
  }
  return 0;
}

void PrintShard(const rapidjson::Value& shard) {
  const auto& hash = shard["HashKeyRange"];
  const auto& seq = shard["SequenceNumberRange"];
  std::cout << "  " << GetString(shard, "ShardId") << "  hash keys "
            << GetString(hash, "StartingHashKey") << ".." << GetString(hash, "EndingHashKey")
            << "\n    sequence numbers from " << GetString(seq, "StartingSequenceNumber");
  const std::string end = GetString(seq, "EndingSequenceNumber");
  if (!end.empty()) std::cout << " to " << end << " (closed)";
  std::cout << "\n";
}

int Describe(KinesisClient& client, const StreamArgs& a) {
  std::string exclusive_start;
  bool header_printed = false;
  for (;;) {
    auto r = client.CallWithRetry("DescribeStream", StreamRequest(a.name, [&](JsonWriter& w) {
                                    if (exclusive_start.empty()) return;
                                    w.Key("ExclusiveStartShardId");
                                    WriteString(w, exclusive_start);
                                  }));
    if (!r.ok()) return Fail(r.status(), kExitFailure);
    const auto& d = (*r)["StreamDescription"];
    if (!d.IsObject()) return Fail(Status::Internal("DescribeStream: no StreamDescription"), 1);
    if (!header_printed) {
      const auto created_ms = static_cast<int64_t>(GetDouble(d, "StreamCreationTimestamp") * 1000);
      std::cout << "Stream:     " << GetString(d, "StreamName") << "\n"
                << "ARN:        " << GetString(d, "StreamARN") << "\n"
                << "Status:     " << GetString(d, "StreamStatus") << "\n"
                << "Retention:  " << GetInt64(d, "RetentionPeriodHours") << " hours\n"
                << "Created:    " << FormatUtcMs(created_ms) << "\n"
                << "Shards:\n";
      header_printed = true;
    }
    const auto& shards = d["Shards"];
    if (!shards.IsArray()) break;
    for (const auto& s : shards.GetArray()) {
      PrintShard(s);
      exclusive_start = GetString(s, "ShardId");
    }
    if (!GetBool(d, "HasMoreShards") || shards.Empty()) break;
  }
  return 0;
}

// Waits until the stream is gone (DeleteStream may return while it is DELETING).
Status WaitGone(KinesisClient& client, const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto r = client.CallWithRetry("DescribeStreamSummary", StreamRequest(name, nullptr));
    if (!r.ok()) return r.status().code() == StatusCode::kNotFound ? Status::Ok() : r.status();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("stream " + name + " is still DELETING after 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int Delete(KinesisClient& client, const StreamArgs& a) {
  auto r = client.CallWithRetry("DeleteStream", StreamRequest(a.name, nullptr));
  if (!r.ok()) return Fail(r.status(), kExitFailure);
  if (Status st = WaitGone(client, a.name); !st.ok()) return Fail(st, kExitFailure);
  std::cout << "deleted stream " << a.name << "\n";
  return 0;
}

}  // namespace

int RunStreamCommand(Command command, const StreamArgs& args) {
  KinesisClient client(args.endpoint, ResolveClientAuth(args.region, args.ca_bundle));
  switch (command) {
    case Command::kStreamCreate:
      return Create(client, args);
    case Command::kStreamList:
      return List(client);
    case Command::kStreamDescribe:
      return Describe(client, args);
    case Command::kStreamDelete:
      return Delete(client, args);
    default:
      return kExitUsage;
  }
}

}  // namespace tideline::cli
