// SubscribeToShard: everything that can be refused is refused here, as an ordinary Kinesis
// error response, before the event stream starts; the subscription itself lives in the hub
// (subscriptions.h).
#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"
#include "subscriptions.h"

namespace tideline::server {
namespace {

constexpr std::string_view kEventStreamContentType = "application/vnd.amazon.eventstream";

const storage::ShardInfo* FindShard(const storage::StreamInfo& info, std::string_view id) {
  for (const storage::ShardInfo& s : info.shards) {
    if (s.id.get() == id) return &s;
  }
  return nullptr;
}

}  // namespace

ApiResponse HandleSubscribeToShard(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("SubscribeToShard", doc, body, err)) return err;
  const FieldReader r;
  const auto consumer_arn = r.String(doc, "ConsumerARN");
  const auto shard = r.String(doc, "ShardId");
  const rapidjson::Value* start = r.Object(doc, "StartingPosition");
  const auto type_name = start ? r.String(*start, "Type") : std::nullopt;
  // The model requires all of these and limits Type to the enum storage knows whole.
  const auto type = type_name ? storage::ParseStartingPosition(*type_name) : std::nullopt;
  if (!consumer_arn || !shard || !type) {
    return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  }
  using storage::StartingPosition;
  const StartingPosition position = *type;
  const auto sequence_number = r.String(*start, "SequenceNumber");
  const auto timestamp_ms = r.TimestampMs(*start, "Timestamp");
  if ((position == StartingPosition::kAtSequenceNumber ||
       position == StartingPosition::kAfterSequenceNumber) &&
      !sequence_number) {
    return MakeError(
        ApiErrorType::kInvalidArgument,
        fmt::format("Must specify SequenceNumber in StartingPosition of type {}.", *type_name));
  }
  if (position == StartingPosition::kAtTimestamp && !timestamp_ms) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "Must specify Timestamp in StartingPosition of type AT_TIMESTAMP.");
  }

  auto found = FindActiveConsumer(ctx, *consumer_arn);
  if (auto* refused = std::get_if<ApiResponse>(&found)) return std::move(*refused);
  ActiveConsumer& consumer = std::get<ActiveConsumer>(found);
  const StreamName& stream = consumer.stream;
  auto info = ctx.store->DescribeStream(stream);
  if (!info.ok()) return StreamError(ctx, info.status(), stream.get());
  if (IsCreatingOrDeleting(info->status)) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, stream.get()));
  }
  const storage::ShardInfo* shard_info = FindShard(*info, *shard);
  if (shard_info == nullptr) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("Shard {} in stream {} under account {} does not exist", *shard,
                                 DisplayName(stream.get()), ctx.account.account_id));
  }
  auto offset = ctx.store->ResolvePosition(
      stream, shard_info->id,
      {position, std::string(sequence_number.value_or("")), timestamp_ms.value_or(0)});
  if (!offset.ok()) return StreamError(ctx, offset.status(), stream.get());
  if (ctx.subscriptions == nullptr) {
    return MakeError(ApiErrorType::kServiceUnavailable,
                     "SubscribeToShard is not available on this server.");
  }

  SubscriptionRequest request;
  request.consumer_arn = std::move(consumer.arn);
  request.stream = stream;
  request.consumer = std::move(consumer.name);
  request.shard = shard_info->id;
  request.shard_uid = shard_info->uid;
  request.start = *offset;
  request.encoding = ctx.cbor ? EventEncoding::kCbor : EventEncoding::kJson;
  request.not_found_message = StreamNotFoundMessage(ctx, stream.get());
  Result<std::shared_ptr<BodyStream>> subscribed = ctx.subscriptions->Subscribe(std::move(request));
  if (!subscribed.ok()) return MakeErrorFromStatus(subscribed.status());
  ApiResponse resp;
  resp.body.clear();
  resp.content_type = std::string(kEventStreamContentType);
  resp.stream = std::move(subscribed).value();
  return resp;
}

}  // namespace tideline::server
