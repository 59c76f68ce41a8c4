// SplitShard, MergeShards and UpdateShardCount: requests checked against the model, then the
// store's reshard (storage/include/storage/store.h has the rules and the limits).
#include <cstdint>

#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"

namespace tideline::server {
namespace {

// The store's refusals in Kinesis's words: an unknown shard names the shard, an unknown stream
// the stream, a stream mid-reshard its state.
ApiResponse ReshardError(const HandlerContext& ctx, const Status& st, std::string_view stream) {
  if (st.code() == StatusCode::kNotFound && st.message().starts_with("Could not find shard")) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("{} under account {}.", st.message(), ctx.account.account_id));
  }
  if (st.code() == StatusCode::kResourceInUse) {
    return MakeError(ApiErrorType::kResourceInUse,
                     fmt::format("Stream {} under account {} not ACTIVE, instead in state UPDATING",
                                 stream, ctx.account.account_id));
  }
  return StreamError(ctx, st, stream);
}

void CheckShardId(Validator& v, const std::optional<std::string_view>& id, std::string_view path) {
  v.NotNull(id.has_value(), path);
  if (id) v.StreamName(*id, path);  // ShardId: the same length (1..128) and pattern
}

}  // namespace

ApiResponse HandleSplitShard(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseBody(doc, body, err)) return err;
  FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(r, v, doc, /*required=*/true);
  const auto shard = r.String(doc, "ShardToSplit");
  const auto key = r.String(doc, "NewStartingHashKey");
  CheckShardId(v, shard, "shardToSplit");
  v.NotNull(key.has_value(), "newStartingHashKey");
  if (key) {
    v.Pattern(MatchesHashKeyPattern(*key), *key, "newStartingHashKey", "0|([1-9]\\d{0,38})");
  }
  if (auto bad = CheckRequest(r, v)) return *bad;
  if (ref.error) return *ref.error;
  const std::optional<HashKey> parsed = ParseHashKey(*key);
  if (!parsed) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("NewStartingHashKey {} is greater than the maximum hash key "
                                 "value 340282366920938463463374607431768211455.",
                                 *key));
  }
  const Status st = ctx.store->SplitShard(*ref.name, ShardId(std::string(*shard)), *parsed);
  if (!st.ok()) return ReshardError(ctx, st, ref.name->get());
  return ApiResponse{};
}

ApiResponse HandleMergeShards(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseBody(doc, body, err)) return err;
  FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(r, v, doc, /*required=*/true);
  const auto shard = r.String(doc, "ShardToMerge");
  const auto adjacent = r.String(doc, "AdjacentShardToMerge");
  CheckShardId(v, shard, "shardToMerge");
  CheckShardId(v, adjacent, "adjacentShardToMerge");
  if (auto bad = CheckRequest(r, v)) return *bad;
  if (ref.error) return *ref.error;
  const Status st = ctx.store->MergeShards(*ref.name, ShardId(std::string(*shard)),
                                           ShardId(std::string(*adjacent)));
  if (!st.ok()) return ReshardError(ctx, st, ref.name->get());
  return ApiResponse{};
}

ApiResponse HandleUpdateShardCount(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseBody(doc, body, err)) return err;
  FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(r, v, doc, /*required=*/true);
  const auto target = r.Integer(doc, "TargetShardCount");
  const auto scaling = r.String(doc, "ScalingType");
  v.NotNull(target.has_value(), "targetShardCount");
  if (target) v.Range(*target, "targetShardCount", 1, INT32_MAX);
  v.NotNull(scaling.has_value(), "scalingType");
  if (scaling && *scaling != "UNIFORM_SCALING") {
    v.Fail(fmt::format("'{}'", *scaling), "scalingType",
           "satisfy enum value set: [UNIFORM_SCALING]");
  }
  if (auto bad = CheckRequest(r, v)) return *bad;
  if (ref.error) return *ref.error;
  auto change = ctx.store->UpdateShardCount(*ref.name, static_cast<uint32_t>(*target),
                                            storage::ScalingType::kUniformScaling);
  if (!change.ok()) return ReshardError(ctx, change.status(), ref.name->get());
  JsonWriter w;
  w.StartObject();
  w.Key("StreamName");
  w.String(ref.name->get());
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
