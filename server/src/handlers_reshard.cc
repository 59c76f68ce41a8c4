// SplitShard, MergeShards and UpdateShardCount: requests checked against the model, then the
// store's reshard (storage/include/storage/store.h has the rules and the limits).
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"
#include "throughput_limiter.h"

namespace tideline::server {
namespace {

// The store's refusals in Kinesis's words: an unknown shard names the shard, an unknown stream
// the stream, a stream mid-reshard its state.
ApiResponse ReshardError(const HandlerContext& ctx, const Status& st, std::string_view stream) {
  if (st.code() == StatusCode::kNotFound && st.message().starts_with("Could not find shard")) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("{} under account {}.", ShownMessage(st.message(), stream),
                                 ctx.account.account_id));
  }
  if (st.code() == StatusCode::kInvalidArgument) {
    // The store names the stream; Kinesis names it "in stream NAME under account ID".
    std::string message(st.message());
    const std::string marker = fmt::format("in stream {}", stream);
    if (const size_t at = message.find(marker); at != std::string::npos) {
      message.insert(at + marker.size(), " under account " + ctx.account.account_id);
    }
    return MakeError(ApiErrorType::kInvalidArgument, ShownMessage(message, stream));
  }
  if (st.code() == StatusCode::kResourceInUse) {
    return MakeError(ApiErrorType::kResourceInUse,
                     fmt::format("Stream {} under account {} not ACTIVE, instead in state UPDATING",
                                 DisplayName(stream), ctx.account.account_id));
  }
  return StreamError(ctx, st, stream);
}

}  // namespace

ApiResponse HandleSplitShard(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("SplitShard", doc, body, err)) return err;
  FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/true);
  const auto shard = r.String(doc, "ShardToSplit");
  const auto key = r.String(doc, "NewStartingHashKey");
  if (auto bad = CheckRequest(v)) return *bad;
  if (!shard || !key) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  if (ref.error) return *ref.error;
  const std::optional<HashKey> parsed = ParseHashKey(*key);
  if (!parsed) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("NewStartingHashKey {} is greater than the maximum hash key "
                                 "value 340282366920938463463374607431768211455.",
                                 *key));
  }
  if (auto refused = CheckStreamUsable(ctx, *ref.name)) return *refused;
  const Status st = ctx.store->SplitShard(*ref.name, ShardId(std::string(*shard)), *parsed);
  if (!st.ok()) return ReshardError(ctx, st, ref.name->get());
  if (ctx.limiter != nullptr) ctx.limiter->Invalidate(ref.name->get());
  return ApiResponse{};
}

ApiResponse HandleMergeShards(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("MergeShards", doc, body, err)) return err;
  FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/true);
  const auto shard = r.String(doc, "ShardToMerge");
  const auto adjacent = r.String(doc, "AdjacentShardToMerge");
  if (auto bad = CheckRequest(v)) return *bad;
  if (!shard || !adjacent) {
    return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  }
  if (ref.error) return *ref.error;
  if (auto refused = CheckStreamUsable(ctx, *ref.name)) return *refused;
  const Status st = ctx.store->MergeShards(*ref.name, ShardId(std::string(*shard)),
                                           ShardId(std::string(*adjacent)));
  if (!st.ok()) return ReshardError(ctx, st, ref.name->get());
  if (ctx.limiter != nullptr) ctx.limiter->Invalidate(ref.name->get());
  return ApiResponse{};
}

ApiResponse HandleUpdateShardCount(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("UpdateShardCount", doc, body, err)) return err;
  FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/true);
  const auto target = r.Integer(doc, "TargetShardCount");
  if (auto bad = CheckRequest(v)) return *bad;
  if (!target) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  if (ref.error) return *ref.error;
  if (auto refused = CheckStreamUsable(ctx, *ref.name)) return *refused;
  auto change = ctx.store->UpdateShardCount(*ref.name, static_cast<uint32_t>(*target),
                                            storage::ScalingType::kUniformScaling);
  if (!change.ok()) return ReshardError(ctx, change.status(), ref.name->get());
  if (ctx.limiter != nullptr) ctx.limiter->Invalidate(ref.name->get());
  JsonWriter w;
  w.StartObject();
  w.Key("StreamName");
  w.String(DisplayName(ref.name->get()));
  w.Key("CurrentShardCount");
  w.Uint64(change->current);
  w.Key("TargetShardCount");
  w.Uint64(change->target);
  w.Key("StreamARN");
  w.String(StreamArn(ctx, ref.name->get()));
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

}  // namespace tideline::server
