// DescribeStream and ListShards: the stream's shards, paginated.
#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "common/regional_stream.h"
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
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/true);
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
  w.String(DisplayName(info->name.get()));
  w.Key("StreamARN");
  w.String(StreamArn(ctx, info->name.get()));
  w.Key("StreamStatus");
  w.String(StreamStatusName(*info));
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
  auto attributes = ctx.store->GetStreamAttributes(*ref.name);
  const storage::StreamAttributes none;
  WriteStreamMode(w, attributes.ok() ? *attributes : none);
  WriteMonitoringAndEncryption(w, attributes.ok() ? *attributes : none);
  w.EndObject();
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

namespace {

// ListShards' ShardFilter. Kinesis's semantics, with a shard's start and end timestamps being
// when it was made and closed, and the trim horizon max(now - retention, stream creation):
// AT_TRIM_HORIZON: shards open at the trim horizon; FROM_TRIM_HORIZON (the default): every
// shard still kept (retention removes the others); AT_LATEST: the open shards; AT_TIMESTAMP:
// shards made at or before the time and open then or since closed at or after it;
// FROM_TIMESTAMP: the open shards and those closed at or after the time (raised to the trim
// horizon); AFTER_SHARD_ID: every shard after ShardId.
enum class ShardFilterType {
  kAfterShardId,
  kAtTrimHorizon,
  kFromTrimHorizon,
  kAtLatest,
  kAtTimestamp,
  kFromTimestamp,
};

constexpr std::array<std::string_view, 6> kShardFilterNames = {
    "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
    "AT_LATEST",      "AT_TIMESTAMP",    "FROM_TIMESTAMP"};

std::optional<ShardFilterType> ParseShardFilterType(std::string_view name) {
  for (size_t i = 0; i < kShardFilterNames.size(); ++i) {
    if (kShardFilterNames[i] == name) return static_cast<ShardFilterType>(i);
  }
  return std::nullopt;
}

struct ShardFilter {
  ShardFilterType type = ShardFilterType::kFromTrimHorizon;
  int64_t timestamp_ms = 0;  // AT_ / FROM_TIMESTAMP
};

bool OpenAt(const storage::ShardInfo& s, int64_t t) {
  return s.created_ms <= t && (!s.closed || s.closed_ms >= t);
}

std::vector<const storage::ShardInfo*> FilterShards(const storage::StreamInfo& info,
                                                    const ShardFilter& filter, int64_t now_ms) {
  const int64_t horizon =
      std::max(info.created_ms, now_ms - int64_t{info.retention_hours} * 3600 * 1000);
  std::vector<const storage::ShardInfo*> out;
  for (const storage::ShardInfo& s : info.shards) {
    bool keep = true;
    switch (filter.type) {
      case ShardFilterType::kAfterShardId:
      case ShardFilterType::kFromTrimHorizon:
        break;
      case ShardFilterType::kAtTrimHorizon:
        keep = OpenAt(s, horizon);
        break;
      case ShardFilterType::kAtLatest:
        keep = !s.closed;
        break;
      case ShardFilterType::kAtTimestamp:
        keep = OpenAt(s, filter.timestamp_ms);
        break;
      case ShardFilterType::kFromTimestamp:
        keep = !s.closed || s.closed_ms >= std::max(filter.timestamp_ms, horizon);
        break;
    }
    if (keep) out.push_back(&s);
  }
  return out;
}

// Where a ListShards call starts: from a NextToken ("<uid>\n<last shard>\n<name>[\n<filter
// type>\n<timestamp ms>]") or from StreamName + ExclusiveStartShardId / ShardFilter.
struct ListShardsStart {
  StreamName name;
  uint64_t uid = 0;  // 0: any incarnation of the stream
  std::string after;
  ShardFilter filter;
};

std::optional<ListShardsStart> StartFromToken(const HandlerContext& ctx, std::string_view token) {
  auto payload = DecodePageToken(kListShardsToken, token);
  if (!payload) return std::nullopt;
  std::vector<std::string> parts;
  size_t from = 0;
  for (;;) {
    const size_t nl = payload->find('\n', from);
    parts.push_back(payload->substr(from, nl == std::string::npos ? nl : nl - from));
    if (nl == std::string::npos) break;
    from = nl + 1;
  }
  if (parts.size() != 3 && parts.size() != 5) return std::nullopt;
  ListShardsStart s;
  try {
    s.uid = std::stoull(parts[0]);
    if (parts.size() == 5) {
      const auto type = ParseShardFilterType(parts[3]);
      if (!type) return std::nullopt;
      s.filter.type = *type;
      s.filter.timestamp_ms = std::stoll(parts[4]);
    }
  } catch (const std::exception&) {
    return std::nullopt;  // garbled token: reported as InvalidArgument by the caller
  }
  s.after = parts[1];
  s.name = StreamName(parts[2]);
  // The token holds the stored name: a token of another region's stream is not one of ours.
  if (!IsValidStoredStreamName(s.name.get()) || !InRequestRegion(ctx, s.name.get())) {
    return std::nullopt;
  }
  return s;
}

ApiResponse WriteShardPage(const storage::StreamInfo& info, const ListShardsStart& start,
                           size_t page, int64_t now_ms) {
  const std::vector<const storage::ShardInfo*> shards = FilterShards(info, start.filter, now_ms);
  // Shard ids are fixed width, so string order is shard order.
  const auto first_it = std::upper_bound(
      shards.begin(), shards.end(), std::string_view(start.after),
      [](std::string_view v, const storage::ShardInfo* s) { return v < s->id.get(); });
  const size_t first = start.after.empty() ? 0 : static_cast<size_t>(first_it - shards.begin());
  const size_t last = std::min(shards.size(), first + page);
  JsonWriter w;
  w.StartObject();
  w.Key("Shards");
  w.StartArray();
  for (size_t i = first; i < last; ++i)
    WriteShard(w, *shards[i]);
  w.EndArray();
  if (last < shards.size()) {
    w.Key("NextToken");
    w.String(EncodePageToken(
        kListShardsToken,
        fmt::format("{}\n{}\n{}\n{}\n{}", info.uid, shards[last - 1]->id.get(), info.name.get(),
                    kShardFilterNames[static_cast<size_t>(start.filter.type)],
                    start.filter.timestamp_ms)));
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
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/false);
  const auto token = r.String(doc, "NextToken");
  const auto max = r.Integer(doc, "MaxResults");
  const auto exclusive = r.String(doc, "ExclusiveStartShardId");
  const rapidjson::Value* filter = r.Object(doc, "ShardFilter");
  std::optional<std::string_view> filter_type, filter_shard;
  std::optional<int64_t> filter_ts;
  std::optional<ShardFilterType> type;
  if (filter) {
    filter_type = r.String(*filter, "Type");
    filter_shard = r.String(*filter, "ShardId");
    filter_ts = r.TimestampMs(*filter, "Timestamp");
    if (filter_type) type = ParseShardFilterType(*filter_type);  // the model checked the enum
  }
  if (auto bad = CheckRequest(v)) return *bad;
  if (ref.error) return *ref.error;

  ListShardsStart start;
  if (type) {
    const bool needs_shard = *type == ShardFilterType::kAfterShardId;
    const bool needs_ts =
        *type == ShardFilterType::kAtTimestamp || *type == ShardFilterType::kFromTimestamp;
    if (needs_shard != filter_shard.has_value()) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       needs_shard ? "ShardFilter of type AFTER_SHARD_ID requires a ShardId."
                                   : "ShardFilter.ShardId is only valid with type AFTER_SHARD_ID.");
    }
    if (needs_ts != filter_ts.has_value()) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       needs_ts ? "ShardFilter of type AT_TIMESTAMP or FROM_TIMESTAMP requires a "
                                  "Timestamp."
                                : "ShardFilter.Timestamp is only valid with types AT_TIMESTAMP "
                                  "and FROM_TIMESTAMP.");
    }
    start.filter.type = *type;
    start.filter.timestamp_ms = filter_ts.value_or(0);
  }
  if (token) {
    if (ref.name || exclusive) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "NextToken and StreamName cannot be provided together.");
    }
    auto from_token = StartFromToken(ctx, *token);
    if (!from_token) return MakeError(ApiErrorType::kInvalidArgument, "Invalid NextToken.");
    start = std::move(*from_token);
  } else {
    if (!ref.name) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "Either NextToken or StreamName should be provided.");
    }
    start.name = *ref.name;
    start.after = std::string(exclusive.value_or(""));
    if (type == ShardFilterType::kAfterShardId) start.after = std::string(*filter_shard);
  }
  auto info = ctx.store->DescribeStream(start.name);
  if (!info.ok()) return StreamError(ctx, info.status(), start.name.get());
  if (IsCreatingOrDeleting(info->status))
    return NotActiveError(ctx, start.name.get(), info->status);
  if (start.uid != 0 && start.uid != info->uid) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, start.name.get()));
  }
  const size_t page =
      std::min(static_cast<size_t>(max.value_or(kListShardsDefault)), kListShardsMaxPage);
  return WriteShardPage(*info, start, page, ctx.now_ms());
}

}  // namespace tideline::server
