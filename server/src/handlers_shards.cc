// DescribeStream and ListShards: the stream's shards, paginated.
#include <algorithm>

#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"

namespace tideline::server {
namespace {

constexpr size_t kDescribeDefaultLimit = 100;
constexpr size_t kDescribeMaxPage = 100;
constexpr size_t kListShardsDefault = 1000;
constexpr size_t kListShardsMaxPage = 1000;
constexpr std::string_view kListShardsToken = "ListShards/1";

// Index of the first shard after `exclusive_start` (shard ids are fixed width, so string order
// is shard order).
size_t FirstShardAfter(const storage::StreamInfo& info, std::string_view exclusive_start) {
  if (exclusive_start.empty()) return 0;
  auto it = std::upper_bound(
      info.shards.begin(), info.shards.end(), exclusive_start,
      [](std::string_view v, const storage::ShardInfo& s) { return v < s.id.get(); });
  return static_cast<size_t>(it - info.shards.begin());
}

}  // namespace

ApiResponse HandleDescribeStream(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("DescribeStream", doc, body, err)) return err;
  const FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(r, v, doc, /*required=*/true);
  const auto limit = r.Integer(doc, "Limit");
  const auto start = r.String(doc, "ExclusiveStartShardId");
  if (auto bad = CheckRequest(v)) return *bad;
  if (ref.error) return *ref.error;
  auto info = ctx.store->DescribeStream(*ref.name);
  if (!info.ok()) return StreamError(ctx, info.status(), ref.name->get());

  const size_t page =
      std::min(static_cast<size_t>(limit.value_or(kDescribeDefaultLimit)), kDescribeMaxPage);
  const size_t first = FirstShardAfter(*info, start.value_or(""));
  const size_t last = std::min(info->shards.size(), first + page);
  JsonWriter w;
  w.StartObject();
  w.Key("StreamDescription");
  w.StartObject();
  w.Key("StreamName");
  w.String(info->name.get());
  w.Key("StreamARN");
  w.String(StreamArn(ctx, info->name.get()));
  w.Key("StreamStatus");
  w.String("ACTIVE");
  w.Key("Shards");
  w.StartArray();
  for (size_t i = first; i < last; ++i)
    WriteShard(w, info->shards[i]);
  w.EndArray();
  w.Key("HasMoreShards");
  w.Bool(last < info->shards.size());
  w.Key("RetentionPeriodHours");
  w.Int64(info->retention_hours);
  w.Key("StreamCreationTimestamp");
  w.EpochSeconds(info->created_ms);
  WriteStreamConstants(w);
  w.EndObject();
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

namespace {

// Where a ListShards call starts: from a NextToken ("<uid>\n<last shard>\n<name>") or from
// StreamName + ExclusiveStartShardId / ShardFilter AFTER_SHARD_ID.
struct ListShardsStart {
  StreamName name;
  uint64_t uid = 0;  // 0: any incarnation of the stream
  std::string after;
};

std::optional<ListShardsStart> StartFromToken(std::string_view token) {
  auto payload = DecodePageToken(kListShardsToken, token);
  if (!payload) return std::nullopt;
  const size_t a = payload->find('\n');
  const size_t b = a == std::string::npos ? a : payload->find('\n', a + 1);
  if (b == std::string::npos) return std::nullopt;
  ListShardsStart s;
  try {
    s.uid = std::stoull(payload->substr(0, a));
  } catch (const std::exception&) {
    return std::nullopt;  // garbled token: reported as InvalidArgument by the caller
  }
  s.after = payload->substr(a + 1, b - a - 1);
  s.name = StreamName(payload->substr(b + 1));
  if (!StreamName::IsValid(s.name.get())) return std::nullopt;
  return s;
}

ApiResponse WriteShardPage(const storage::StreamInfo& info, const ListShardsStart& start,
                           size_t page) {
  const size_t first = FirstShardAfter(info, start.after);
  const size_t last = std::min(info.shards.size(), first + page);
  JsonWriter w;
  w.StartObject();
  w.Key("Shards");
  w.StartArray();
  for (size_t i = first; i < last; ++i)
    WriteShard(w, info.shards[i]);
  w.EndArray();
  if (last < info.shards.size()) {
    w.Key("NextToken");
    w.String(EncodePageToken(
        kListShardsToken,
        fmt::format("{}\n{}\n{}", info.uid, info.shards[last - 1].id.get(), info.name.get())));
  }
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

}  // namespace

ApiResponse HandleListShards(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("ListShards", doc, body, err)) return err;
  const FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(r, v, doc, /*required=*/false);
  const auto token = r.String(doc, "NextToken");
  const auto max = r.Integer(doc, "MaxResults");
  const auto exclusive = r.String(doc, "ExclusiveStartShardId");
  const rapidjson::Value* filter = r.Object(doc, "ShardFilter");
  std::optional<std::string_view> filter_type, filter_shard;
  if (filter) {
    filter_type = r.String(*filter, "Type");
    filter_shard = r.String(*filter, "ShardId");
  }
  if (auto bad = CheckRequest(v)) return *bad;
  if (ref.error) return *ref.error;

  ListShardsStart start;
  if (token) {
    if (ref.name || exclusive) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "NextToken and StreamName cannot be provided together.");
    }
    auto from_token = StartFromToken(*token);
    if (!from_token) return MakeError(ApiErrorType::kInvalidArgument, "Invalid NextToken.");
    start = std::move(*from_token);
  } else {
    if (!ref.name) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "Either NextToken or StreamName should be provided.");
    }
    start.name = *ref.name;
    start.after = std::string(exclusive.value_or(""));
    if (filter_type == "AFTER_SHARD_ID" && filter_shard) start.after = std::string(*filter_shard);
  }
  auto info = ctx.store->DescribeStream(start.name);
  if (!info.ok()) return StreamError(ctx, info.status(), start.name.get());
  if (start.uid != 0 && start.uid != info->uid) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, start.name.get()));
  }
  const size_t page =
      std::min(static_cast<size_t>(max.value_or(kListShardsDefault)), kListShardsMaxPage);
  return WriteShardPage(*info, start, page);
}

}  // namespace tideline::server
