// `tideline get`: replays one shard or every shard from a starting position.
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/kinesis_client.h"
#include "cli_util.h"
#include "common/base64.h"
#include "storage/sequence_number.h"

namespace tideline::cli {
namespace {

struct ShardRef {
  std::string id;
  std::string starting_sequence_number;
};

// One shard being read: its iterator and the last sequence number printed (to resume from when
// the iterator expires).
struct Cursor {
  ShardRef shard;
  std::string iterator;
  std::string last_sequence_number;
  bool done = false;
};

Result<std::vector<ShardRef>> ListShards(KinesisClient& client, const std::string& stream) {
  std::vector<ShardRef> shards;
  std::string next_token;
  for (;;) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    if (next_token.empty()) {
      w.Key("StreamName");
      WriteString(w, stream);
    } else {
      w.Key("NextToken");
      WriteString(w, next_token);
    }
    w.EndObject();
    auto r = client.CallWithRetry("ListShards", buf.GetString());
    if (!r.ok()) return r.status();
    const auto& list = (*r)["Shards"];
    if (list.IsArray()) {
      for (const auto& s : list.GetArray()) {
        shards.push_back({GetString(s, "ShardId"),
                          GetString(s["SequenceNumberRange"], "StartingSequenceNumber")});
      }
    }
    next_token = GetString(*r, "NextToken");
    if (next_token.empty()) break;
  }
  return shards;
}

// The shard a sequence number belongs to, by the store's encoding (shard uid in the high bits).
std::optional<ShardRef> ShardOfSequence(const std::vector<ShardRef>& shards,
                                        const std::string& seq) {
  const auto pos = DecodeSequenceNumber(seq);
  if (!pos) return std::nullopt;
  for (const auto& s : shards) {
    const auto start = DecodeSequenceNumber(s.starting_sequence_number);
    if (start && start->shard_uid == pos->shard_uid) return s;
  }
  return std::nullopt;
}

class Replayer {
 public:
  explicit Replayer(const GetArgs& args)
      : args_(args), client_(args.endpoint, ResolveClientAuth(args.region, args.ca_bundle)) {}

  Status Run() {
    TL_RETURN_IF_ERROR(SelectShards());
    for (auto& c : cursors_)
      TL_RETURN_IF_ERROR(StartIterator(c, /*resume=*/false));
    if (!args_.follow) {
      // Replay shard after shard, each until it has caught up.
      for (auto& c : cursors_) {
        while (!c.done && !LimitReached())
          TL_RETURN_IF_ERROR(Poll(c).status());
      }
      return Status::Ok();
    }
    std::chrono::milliseconds backoff{100};
    while (!LimitReached()) {
      size_t got = 0;
      bool any_open = false;
      for (auto& c : cursors_) {
        if (c.done || LimitReached()) continue;
        any_open = true;
        auto n = Poll(c);
        if (!n.ok()) return n.status();
        got += *n;
      }
      if (!any_open) break;
      if (got > 0) {
        backoff = std::chrono::milliseconds(100);
        continue;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    return Status::Ok();
  }

  uint64_t printed() const { return printed_; }

 private:
  bool LimitReached() const { return args_.limit && printed_ >= *args_.limit; }

  Status SelectShards() {
    auto shards = ListShards(client_, args_.stream);
    if (!shards.ok()) return shards.status();
    std::vector<ShardRef> chosen;
    if (args_.shard) {
      for (const auto& s : *shards) {
        if (s.id == *args_.shard) chosen.push_back(s);
      }
      if (chosen.empty()) {
        return Status::NotFound("stream " + args_.stream + " has no shard " + *args_.shard);
      }
    } else if (args_.at_seq || args_.after_seq) {
      const std::string& seq = args_.at_seq ? *args_.at_seq : *args_.after_seq;
      auto s = ShardOfSequence(*shards, seq);
      if (!s) {
        return Status::InvalidArgument("sequence number " + seq +
                                       " belongs to no shard of stream " + args_.stream +
                                       "; name the shard with --shard");
      }
      chosen.push_back(*s);
    } else {
      chosen = *shards;
    }
    for (auto& s : chosen)
      cursors_.push_back(Cursor{s, "", "", false});
    return Status::Ok();
  }

  // Gets an iterator at the requested position, or (resume) just after the last record printed.
  Status StartIterator(Cursor& c, bool resume) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("StreamName");
    WriteString(w, args_.stream);
    w.Key("ShardId");
    WriteString(w, c.shard.id);
    w.Key("ShardIteratorType");
    if (resume && !c.last_sequence_number.empty()) {
      w.String("AFTER_SEQUENCE_NUMBER");
      w.Key("StartingSequenceNumber");
      WriteString(w, c.last_sequence_number);
    } else if (args_.trim_horizon) {
      w.String("TRIM_HORIZON");
    } else if (args_.latest) {
      w.String("LATEST");
    } else if (args_.at_seq || args_.after_seq) {
      w.String(args_.at_seq ? "AT_SEQUENCE_NUMBER" : "AFTER_SEQUENCE_NUMBER");
      w.Key("StartingSequenceNumber");
      WriteString(w, args_.at_seq ? *args_.at_seq : *args_.after_seq);
    } else {
      w.String("AT_TIMESTAMP");
      w.Key("Timestamp");
      w.Double(static_cast<double>(ParseTimestampMs(*args_.at_timestamp).value_or(0)) / 1000.0);
    }
    w.EndObject();
    auto r = client_.CallWithRetry("GetShardIterator", buf.GetString());
    if (!r.ok()) return r.status();
    c.iterator = GetString(*r, "ShardIterator");
    if (c.iterator.empty()) c.done = true;
    return Status::Ok();
  }

  // One GetRecords call: prints what it returns, advances the cursor, returns the count.
  Result<size_t> Poll(Cursor& c) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("ShardIterator");
    WriteString(w, c.iterator);
    w.Key("Limit");
    uint64_t limit = 10000;
    if (args_.limit) limit = std::min<uint64_t>(limit, *args_.limit - printed_);
    w.Uint64(limit);
    w.EndObject();
    auto r = client_.CallWithRetry("GetRecords", buf.GetString());
    if (!r.ok()) {
      if (r.status().message().starts_with("ExpiredIteratorException")) {
        TL_RETURN_IF_ERROR(StartIterator(c, /*resume=*/true));
        return size_t{0};
      }
      return r.status();
    }
    const auto& records = (*r)["Records"];
    size_t count = 0;
    if (records.IsArray()) {
      std::string out;
      for (const auto& rec : records.GetArray()) {
        TL_RETURN_IF_ERROR(AppendRecord(c, rec, out));
        ++count;
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    }
    printed_ += count;
    c.iterator = GetString(*r, "NextShardIterator");
    if (c.iterator.empty()) c.done = true;  // closed shard, read to its end
    if (!args_.follow && count == 0 && GetInt64(*r, "MillisBehindLatest") == 0) c.done = true;
    return count;
  }

  Status AppendRecord(Cursor& c, const rapidjson::Value& rec, std::string& out) {
    auto data = Base64Decode(GetString(rec, "Data"));
    if (!data) return Status::Internal("GetRecords returned a record whose Data is not base64");
    c.last_sequence_number = GetString(rec, "SequenceNumber");
    if (args_.format == GetFormat::kData) {
      out += *data;
      out += '\n';
      return Status::Ok();
    }
    const auto arrival_ms =
        static_cast<int64_t>(GetDouble(rec, "ApproximateArrivalTimestamp") * 1000.0 + 0.5);
    // Data that is not UTF-8 cannot be a JSON string: it is printed as data_base64 instead.
    for (bool as_text : {true, false}) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                        rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>
          w(buf);
      w.StartObject();
      w.Key("seq");
      w.String(c.last_sequence_number.c_str());
      w.Key("shard");
      w.String(c.shard.id.c_str());
      w.Key("partition_key");
      const std::string key = GetString(rec, "PartitionKey");
      w.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      w.Key("arrival");
      w.String(FormatUtcMs(arrival_ms).c_str());
      w.Key(as_text ? "data" : "data_base64");
      const std::string& payload = as_text ? *data : GetString(rec, "Data");
      if (!w.String(payload.data(), static_cast<rapidjson::SizeType>(payload.size()))) continue;
      w.EndObject();
      out.append(buf.GetString(), buf.GetSize());
      out += '\n';
      return Status::Ok();
    }
    return Status::Internal("cannot print record " + c.last_sequence_number + " as JSON");
  }

  const GetArgs& args_;
  KinesisClient client_;
  std::vector<Cursor> cursors_;
  uint64_t printed_ = 0;
};

}  // namespace

int RunGet(const GetArgs& args) {
  if (Status st = ValidateGetArgs(args); !st.ok()) return Fail(st, kExitUsage);
  Replayer replayer(args);
  if (Status st = replayer.Run(); !st.ok()) return Fail(st, kExitFailure);
  return 0;
}

}  // namespace tideline::cli
