// CreateStream, DeleteStream, ListStreams, DescribeStreamSummary and the retention operations.
#include <algorithm>

#include <fmt/format.h>

#include "common/regional_stream.h"
#include "handlers.h"
#include "handlers_common.h"
#include "handlers_settings.h"
#include "subscriptions.h"
#include "throughput_limiter.h"

namespace tideline::server {
namespace {

// Kinesis creates an on-demand stream with 4 shards when no ShardCount is given.
constexpr int64_t kDefaultShardCount = 4;
constexpr size_t kListStreamsDefaultLimit = 100;
constexpr size_t kListStreamsMaxPage = 100;
constexpr std::string_view kListStreamsToken = "ListStreams/1";

// Parses a request holding only a stream reference (+ whatever `extra` reads into v/r).
struct StreamRequest {
  rapidjson::Document doc;
  FieldReader r;
  Validator v;
  StreamRef ref;
};

// The stream's attributes; the defaults when it was deleted since `info` was read.
storage::StreamAttributes AttributesOf(const HandlerContext& ctx, const StreamName& name) {
  auto attrs = ctx.store->GetStreamAttributes(name);
  return attrs.ok() ? *std::move(attrs) : storage::StreamAttributes{};
}

void WriteSummaryFields(const HandlerContext& ctx, JsonWriter& w, const storage::StreamInfo& s,
                        const storage::StreamAttributes& attributes) {
  w.Key("StreamName");
  w.String(DisplayName(s.name.get()));
  w.Key("StreamARN");
  w.String(StreamArn(ctx, s.name.get()));
  w.Key("StreamStatus");
  w.String(StreamStatusName(s));
  WriteStreamMode(w, attributes);
  w.Key("StreamCreationTimestamp");
  w.EpochSeconds(s.created_ms);
}

// Up to `limit` streams of the request's region after the stream named `after` (a name as the
// user knows it; empty: from the first), in name order, by their stored names. Another region's
// streams are one contiguous run of the store's order ("<region>:..."); the default region's are
// the names without ':', between which whole runs of other regions are skipped in one step.
std::vector<StreamName> ListRegionStreams(const HandlerContext& ctx, std::string_view after,
                                          size_t limit) {
  std::vector<StreamName> out;
  if (!ctx.region.empty() && ctx.region != ctx.account.region) {
    const std::string prefix = StoredStreamName(ctx.region, ctx.account.region, "");
    // "<region>:" itself is no stream name, so it is a valid exclusive start for the run.
    out = ctx.store->ListStreams(prefix + std::string(after), limit);
    const auto outside = std::find_if(
        out.begin(), out.end(), [&](const StreamName& n) { return !n.get().starts_with(prefix); });
    out.erase(outside, out.end());
    return out;
  }
  std::string cursor(after);
  while (out.size() < limit) {
    const size_t want = limit - out.size();
    const std::vector<StreamName> names = ctx.store->ListStreams(cursor, want);
    bool skipped = false;
    for (const StreamName& n : names) {
      const size_t sep = n.get().find(kRegionSeparator);
      if (sep != std::string::npos) {
        // Past every "<region>:..." name: ';' follows ':' and is no stream name character.
        cursor = n.get().substr(0, sep) + static_cast<char>(kRegionSeparator + 1);
        skipped = true;
        break;
      }
      out.push_back(n);
      cursor = n.get();
    }
    if (!skipped && names.size() < want) break;
  }
  return out;
}

}  // namespace

ApiResponse HandleCreateStream(const HandlerContext& ctx, std::string_view body) {
  StreamRequest q;
  ApiResponse err;
  if (!ParseRequest("CreateStream", q.doc, body, err)) return err;
  const auto name = q.r.String(q.doc, "StreamName");
  const auto shards = q.r.Integer(q.doc, "ShardCount");
  if (!name) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  storage::StreamAttributes attributes;
  if (const rapidjson::Value* mode = q.r.Object(q.doc, "StreamModeDetails")) {
    if (q.r.String(*mode, "StreamMode") == std::optional<std::string_view>("ON_DEMAND")) {
      attributes.mode = storage::StreamMode::kOnDemand;
    }
  }
  if (auto bad = ReadCreationTags(ctx, *name, q.r.Object(q.doc, "Tags"), attributes.tags)) {
    return *bad;
  }
  if (const auto kib = q.r.Integer(q.doc, "MaxRecordSizeInKiB")) {
    attributes.max_record_size_kib = static_cast<uint32_t>(*kib);  // the model checked the range
  }
  if (const auto mibps = q.r.Integer(q.doc, "WarmThroughputMiBps")) {
    if (auto bad = CheckWarmThroughput(attributes.mode, *mibps, CommitmentEnabled(ctx))) {
      return *bad;
    }
    attributes.warm_throughput_mibps = static_cast<uint32_t>(*mibps);
  }

  // An on-demand stream starts with Kinesis's 4 shards whatever ShardCount says.
  const uint32_t count = attributes.mode == storage::StreamMode::kOnDemand
                             ? static_cast<uint32_t>(kDefaultShardCount)
                             : static_cast<uint32_t>(shards.value_or(kDefaultShardCount));
  const Status st = ctx.store->CreateStream(StoredName(ctx, *name), count, attributes);
  if (st.code() == StatusCode::kAlreadyExists) {
    return MakeError(
        ApiErrorType::kResourceInUse,
        fmt::format("Stream {} under account {} already exists.", *name, ctx.account.account_id));
  }
  if (!st.ok()) return StreamError(ctx, st, *name);
  NoteMaxRecordSize(ctx, storage::kDefaultMaxRecordSizeKiB, attributes.max_record_size_kib);
  // A stream made again under a deleted one's name starts with full buckets.
  if (ctx.limiter != nullptr) ctx.limiter->Forget(StoredName(ctx, *name).get());
  return ApiResponse{};
}

ApiResponse HandleDeleteStream(const HandlerContext& ctx, std::string_view body) {
  StreamRequest q;
  ApiResponse err;
  if (!ParseRequest("DeleteStream", q.doc, body, err)) return err;
  q.ref = ReadStreamRef(ctx, q.r, q.v, q.doc, /*required=*/true);
  if (auto bad = CheckRequest(q.v)) return *bad;
  if (q.ref.error) return *q.ref.error;
  const auto status = ctx.store->GetStreamStatus(*q.ref.name);
  if (!status.ok()) return StreamError(ctx, status.status(), q.ref.name->get());
  if (*status == storage::StreamStatus::kCreating) {
    return MakeError(ApiErrorType::kResourceInUse,
                     fmt::format("Attempt to change a resource which is still in use: Stream is "
                                 "being created: {}",
                                 DisplayName(q.ref.name->get())));
  }
  // Deleting a stream that is already DELETING changes nothing, as Kinesis accepts it again.
  if (*status == storage::StreamStatus::kDeleting) return ApiResponse{};
  const Status st = ctx.store->DeleteStream(*q.ref.name);
  if (!st.ok()) return StreamError(ctx, st, q.ref.name->get());
  if (ctx.limiter != nullptr) ctx.limiter->Forget(q.ref.name->get());
  // Its subscriptions end with it (the store's wake-up would end them too, at their next read;
  // this also ends those not yet started, and before a stream of the same name can exist).
  if (ctx.subscriptions != nullptr) {
    ctx.subscriptions->EndStream(*q.ref.name, StreamNotFoundMessage(ctx, q.ref.name->get()));
  }
  return ApiResponse{};
}

ApiResponse HandleListStreams(const HandlerContext& ctx, std::string_view body) {
  StreamRequest q;
  ApiResponse err;
  if (!ParseRequest("ListStreams", q.doc, body, err)) return err;
  const auto limit = q.r.Integer(q.doc, "Limit");
  const auto start = q.r.String(q.doc, "ExclusiveStartStreamName");
  const auto token = q.r.String(q.doc, "NextToken");
  if (start && token) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "NextToken and ExclusiveStartStreamName cannot be provided together.");
  }
  std::string after(start.value_or(""));
  if (token) {
    auto decoded = DecodePageToken(kListStreamsToken, *token);
    if (!decoded) return MakeError(ApiErrorType::kInvalidArgument, "Invalid NextToken.");
    after = std::move(*decoded);
  }
  const size_t page =
      std::min(static_cast<size_t>(limit.value_or(kListStreamsDefaultLimit)), kListStreamsMaxPage);
  std::vector<StreamName> names = ListRegionStreams(ctx, after, page + 1);
  const bool more = names.size() > page;
  if (more) names.resize(page);

  JsonWriter w;
  w.StartObject();
  w.Key("StreamNames");
  w.StartArray();
  for (const StreamName& n : names)
    w.String(DisplayName(n.get()));
  w.EndArray();
  w.Key("StreamSummaries");
  w.StartArray();
  for (const StreamName& n : names) {
    auto info = ctx.store->DescribeStream(n);
    if (!info.ok()) continue;  // deleted since listed: Kinesis lists only existing streams
    w.StartObject();
    WriteSummaryFields(ctx, w, *info, AttributesOf(ctx, n));
    w.EndObject();
  }
  w.EndArray();
  w.Key("HasMoreStreams");
  w.Bool(more);
  if (more) {
    w.Key("NextToken");
    w.String(EncodePageToken(kListStreamsToken, DisplayName(names.back().get())));
  }
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

ApiResponse HandleDescribeStreamSummary(const HandlerContext& ctx, std::string_view body) {
  StreamRequest q;
  ApiResponse err;
  if (!ParseRequest("DescribeStreamSummary", q.doc, body, err)) return err;
  q.ref = ReadStreamRef(ctx, q.r, q.v, q.doc, /*required=*/true);
  if (auto bad = CheckRequest(q.v)) return *bad;
  if (q.ref.error) return *q.ref.error;
  auto info = ctx.store->DescribeStream(*q.ref.name);
  if (!info.ok()) return StreamError(ctx, info.status(), q.ref.name->get());

  JsonWriter w;
  w.StartObject();
  w.Key("StreamDescriptionSummary");
  w.StartObject();
  const storage::StreamAttributes attributes = AttributesOf(ctx, *q.ref.name);
  WriteSummaryFields(ctx, w, *info, attributes);
  w.Key("RetentionPeriodHours");
  w.Int64(info->retention_hours);
  WriteMonitoringAndEncryption(w, attributes);
  w.Key("OpenShardCount");
  w.Uint64(info->OpenShardCount());
  w.Key("ConsumerCount");
  w.Uint64(CountConsumers(ctx, attributes));
  if (!attributes.stream_id.empty()) {
    w.Key("StreamId");
    w.String(attributes.stream_id);
  }
  WriteWarmThroughput(w, attributes);
  w.Key("MaxRecordSizeInKiB");
  w.Uint64(attributes.max_record_size_kib);
  w.EndObject();
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

namespace {

// Increase (increase=true) or decrease the retention with Kinesis's rules and wording.
ApiResponse ChangeRetention(const HandlerContext& ctx, std::string_view body, bool increase) {
  StreamRequest q;
  ApiResponse err;
  const std::string_view op =
      increase ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod";
  if (!ParseRequest(op, q.doc, body, err)) return err;
  q.ref = ReadStreamRef(ctx, q.r, q.v, q.doc, /*required=*/true);
  const auto hours = q.r.Integer(q.doc, "RetentionPeriodHours");
  if (auto bad = CheckRequest(q.v)) return *bad;
  if (q.ref.error) return *q.ref.error;
  if (!hours) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  const std::string_view name = DisplayName(q.ref.name->get());
  if (*hours < storage::kMinRetentionHours) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("Minimum allowed retention period is {} hours. Requested "
                                 "retention period ({} hours) is too short.",
                                 storage::kMinRetentionHours, *hours));
  }
  if (*hours > storage::kMaxRetentionHours) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("Maximum allowed retention period is {} hours. Requested "
                                 "retention period ({} hours) is too long.",
                                 storage::kMaxRetentionHours, *hours));
  }
  auto info = ctx.store->DescribeStream(*q.ref.name);
  if (!info.ok()) return StreamError(ctx, info.status(), q.ref.name->get());
  if (IsCreatingOrDeleting(info->status)) return NotActiveError(ctx, name, info->status);
  const int current = info->retention_hours;
  if (increase && *hours < current) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("Requested retention period ({} hours) for stream {} can not be "
                                 "shorter than existing retention period ({} hours). Use "
                                 "DecreaseRetentionPeriod API.",
                                 *hours, name, current));
  }
  if (!increase && *hours > current) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("Requested retention period ({} hours) for stream {} can not be "
                                 "longer than existing retention period ({} hours). Use "
                                 "IncreaseRetentionPeriod API.",
                                 *hours, name, current));
  }
  const Status st = ctx.store->SetRetentionHours(*q.ref.name, static_cast<int>(*hours));
  if (!st.ok()) return StreamError(ctx, st, q.ref.name->get());
  return ApiResponse{};
}

}  // namespace

ApiResponse HandleIncreaseStreamRetentionPeriod(const HandlerContext& ctx, std::string_view body) {
  return ChangeRetention(ctx, body, /*increase=*/true);
}

ApiResponse HandleDecreaseStreamRetentionPeriod(const HandlerContext& ctx, std::string_view body) {
  return ChangeRetention(ctx, body, /*increase=*/false);
}

}  // namespace tideline::server
