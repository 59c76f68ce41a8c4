// GetShardIterator and GetRecords: positions become signed iterator tokens; reads encode JSON
// straight from the store's record visitor.
#include <ctime>

#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"
#include "iterator_token.h"
#include "throughput_limiter.h"

namespace tideline::server {
namespace {

constexpr size_t kMaxResponseDataBytes = 10u << 20;

const storage::ShardInfo* FindShard(const storage::StreamInfo& info, std::string_view id) {
  for (const storage::ShardInfo& s : info.shards) {
    if (s.id.get() == id) return &s;
  }
  return nullptr;
}

ApiResponse ShardNotFound(const HandlerContext& ctx, std::string_view shard,
                          std::string_view stream) {
  return MakeError(ApiErrorType::kResourceNotFound,
                   fmt::format("Shard {} in stream {} under account {} does not exist", shard,
                               DisplayName(stream), ctx.account.account_id));
}

// Java's Date.toString() form that Kinesis prints in ExpiredIteratorException, in UTC.
std::string JavaDate(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof(buf), "%a %b %d %H:%M:%S UTC %Y", &tm);
  return std::string(buf, n);
}

ApiResponse IteratorResponse(const HandlerContext& ctx, const IteratorPosition& pos) {
  JsonWriter w;
  w.StartObject();
  w.Key("ShardIterator");
  w.TrustedString(EncodeShardIterator(pos, ctx.store->IteratorSecret()));
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

// Checks the position-specific arguments Kinesis requires for AT_/AFTER_ and AT_TIMESTAMP.
std::optional<ApiResponse> CheckPositionArgs(storage::StartingPosition type,
                                             std::string_view type_name, bool has_sequence,
                                             bool has_timestamp) {
  using storage::StartingPosition;
  const bool needs_seq =
      type == StartingPosition::kAtSequenceNumber || type == StartingPosition::kAfterSequenceNumber;
  if (needs_seq && !has_sequence) {
    return MakeError(
        ApiErrorType::kInvalidArgument,
        fmt::format("Must specify StartingSequenceNumber for iterator of type {}.", type_name));
  }
  if (type == StartingPosition::kAtTimestamp && !has_timestamp) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "Must specify timestampInMillis parameter for iterator of type "
                     "AT_TIMESTAMP. Current request has no timestamp parameter.");
  }
  return std::nullopt;
}

}  // namespace

ApiResponse HandleGetShardIterator(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("GetShardIterator", doc, body, err)) return err;
  const FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/true);
  const auto shard = r.String(doc, "ShardId");
  const auto type_name = r.String(doc, "ShardIteratorType");
  const auto seq = r.String(doc, "StartingSequenceNumber");
  const auto ts = r.TimestampMs(doc, "Timestamp");
  if (auto bad = CheckRequest(v)) return *bad;
  if (ref.error) return *ref.error;
  // The model requires both and limits the type to its enum, which storage knows whole.
  const auto type = type_name ? storage::ParseStartingPosition(*type_name) : std::nullopt;
  if (!shard || !type)
    return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  const storage::StartingPosition position = *type;
  if (auto bad = CheckPositionArgs(position, *type_name, seq.has_value(), ts.has_value())) {
    return *bad;
  }

  auto info = ctx.store->DescribeStream(*ref.name);
  if (!info.ok()) return StreamError(ctx, info.status(), ref.name->get());
  if (IsCreatingOrDeleting(info->status)) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, ref.name->get()));
  }
  if (!FindShard(*info, *shard)) return ShardNotFound(ctx, *shard, ref.name->get());
  if (ctx.limiter != nullptr) [[unlikely]] {
    ThroughputLimiter& limiter = *ctx.limiter;
    if (!limiter.ForShard(*info, *shard)->iterator_calls.TryTake(1, limiter.NowNs())) {
      return MakeError(ApiErrorType::kProvisionedThroughputExceeded,
                       WriteThrottledMessage(*shard, ref.name->get(), ctx.account.account_id));
    }
  }
  const ShardId shard_id{std::string(*shard)};
  auto offset = ctx.store->ResolvePosition(
      *ref.name, shard_id, {position, std::string(seq.value_or("")), ts.value_or(0)});
  if (!offset.ok()) return StreamError(ctx, offset.status(), ref.name->get());

  IteratorPosition pos;
  pos.stream_name = ref.name->get();
  pos.stream_uid = info->uid;
  pos.shard_id = shard_id.get();
  pos.next_offset = offset->get();
  pos.issued_ms = ctx.now_ms();
  return IteratorResponse(ctx, pos);
}

namespace {

// Decodes and checks a GetRecords iterator against the clock and the stream's incarnation.
std::optional<ApiResponse> CheckIterator(const HandlerContext& ctx, std::string_view token,
                                         IteratorPosition& pos, int64_t now) {
  auto decoded = DecodeShardIterator(token, ctx.store->IteratorSecret());
  // An iterator is good in the region that issued it only, as each region signs its own.
  if (!decoded || !InRequestRegion(ctx, decoded->stream_name)) {
    return MakeError(ApiErrorType::kInvalidArgument, "Invalid ShardIterator.");
  }
  pos = std::move(*decoded);
  if (now - pos.issued_ms > ctx.iterator_ttl.count()) {
    return MakeError(ApiErrorType::kExpiredIterator,
                     fmt::format("Iterator expired. The iterator was created at time {} while "
                                 "right now it is {} which is further in the future than the "
                                 "tolerated delay of {} milliseconds.",
                                 JavaDate(pos.issued_ms), JavaDate(now), ctx.iterator_ttl.count()));
  }
  return std::nullopt;
}

// Reads from the iterator's position and encodes the GetRecords response straight from the
// store's visitor.
ApiResponse ReadRecords(const HandlerContext& ctx, const storage::ShardInfo& shard,
                        const IteratorPosition& pos, size_t limit, int64_t now) {
  const StreamName stream{pos.stream_name};
  JsonWriter w;
  w.StartObject();
  w.Key("Records");
  w.StartArray();
  int64_t last_arrival = 0;
  const ShardUid shard_uid = shard.uid;
  storage::ReadLimits limits;
  limits.max_records = limit;
  limits.max_bytes = kMaxResponseDataBytes;
  auto summary = ctx.store->Read(stream, shard.id, Offset{pos.next_offset}, limits,
                                 [&](const storage::RecordView& rec) {
                                   WriteRecord(w, shard_uid, rec);
                                   last_arrival = rec.arrival_ms;
                                 });
  if (!summary.ok()) return StreamError(ctx, summary.status(), pos.stream_name);
  w.EndArray();
  const bool at_tip = summary->next.get() > summary->last_offset.get();
  w.Key("MillisBehindLatest");
  w.Int64(at_tip || summary->records == 0 ? 0 : std::max<int64_t>(0, now - last_arrival));
  if (summary->shard_end) {
    // A closed shard read to its end: no iterator to continue with, its children instead.
    WriteChildShards(w, summary->children);
  } else {
    IteratorPosition next = pos;
    next.next_offset = summary->next.get();
    next.issued_ms = now;
    w.Key("NextShardIterator");
    w.TrustedString(EncodeShardIterator(next, ctx.store->IteratorSecret()));
  }
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  resp.records = summary->records;
  resp.bytes = summary->bytes;
  return resp;
}

}  // namespace

ApiResponse HandleGetRecords(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("GetRecords", doc, body, err)) return err;
  const FieldReader r;
  Validator v;
  const auto token = r.String(doc, "ShardIterator");
  const auto limit = r.Integer(doc, "Limit");
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/false);
  if (auto bad = CheckRequest(v)) return *bad;
  if (!token) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");

  const int64_t now = ctx.now_ms();
  IteratorPosition pos;
  if (auto bad = CheckIterator(ctx, *token, pos, now)) return *bad;
  if (ref.name && ref.name->get() != pos.stream_name) {
    return MakeError(ApiErrorType::kInvalidArgument, "Invalid ShardIterator.");
  }
  const StreamName stream{pos.stream_name};
  auto info = ctx.store->DescribeStream(stream);
  if (!info.ok()) return StreamError(ctx, info.status(), pos.stream_name);
  if (info->uid != pos.stream_uid || IsCreatingOrDeleting(info->status)) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, pos.stream_name));
  }
  const storage::ShardInfo* shard = FindShard(*info, pos.shard_id);
  if (!shard) return ShardNotFound(ctx, pos.shard_id, pos.stream_name);

  const size_t max_records = static_cast<size_t>(limit.value_or(10000));
  if (ctx.limiter == nullptr) [[likely]] {
    return ReadRecords(ctx, *shard, pos, max_records, now);
  }
  // 5 calls a second, and a call whose bytes put the shard over its read rate is answered in
  // full; the calls after it are refused until the rate has caught up (Kinesis's 10 MiB rule).
  ThroughputLimiter& limiter = *ctx.limiter;
  const std::shared_ptr<ShardBuckets> buckets = limiter.ForShard(*info, pos.shard_id);
  if (!buckets->TryRead(limiter.NowNs())) {
    return MakeError(ApiErrorType::kProvisionedThroughputExceeded,
                     ReadThrottledMessage(pos.shard_id, pos.stream_name, ctx.account.account_id));
  }
  ApiResponse resp = ReadRecords(ctx, *shard, pos, max_records, now);
  if (resp.error_type.empty()) {
    buckets->read_bytes.Charge(static_cast<int64_t>(resp.bytes), limiter.NowNs());
  }
  return resp;
}

}  // namespace tideline::server
