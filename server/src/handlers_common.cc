#include "handlers_common.h"

#include <fmt/format.h>

#include "common/base64.h"
#include "common/regional_stream.h"
#include "iterator_token.h"
#include "model_validator.h"

namespace tideline::server {

StreamName StoredName(const HandlerContext& ctx, std::string_view name) {
  return StreamName(StoredStreamName(ctx.region, ctx.account.region, name));
}

std::string_view DisplayName(std::string_view stored) {
  return SplitStoredStreamName(stored).name;
}

bool InRequestRegion(const HandlerContext& ctx, std::string_view stored) {
  const std::string_view region = SplitStoredStreamName(stored).region;
  // Api leaves `region` empty for the default region, so the default region's streams (stored
  // without a region) are the ones whose region matches an empty one.
  return region.empty() ? ctx.region.empty() || ctx.region == ctx.account.region
                        : region == ctx.Region();
}

std::string StreamArn(const HandlerContext& ctx, std::string_view name) {
  return fmt::format("arn:aws:kinesis:{}:{}:stream/{}", ctx.Region(), ctx.account.account_id,
                     DisplayName(name));
}

std::string StreamNotFoundMessage(const HandlerContext& ctx, std::string_view name) {
  return fmt::format("Stream {} under account {} not found.", DisplayName(name),
                     ctx.account.account_id);
}

ApiResponse StreamError(const HandlerContext& ctx, const Status& status, std::string_view name) {
  if (status.code() == StatusCode::kNotFound) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, name));
  }
  if (DisplayName(name).size() == name.size()) return MakeErrorFromStatus(status);
  return MakeErrorFromStatus(
      Status(status.code(), ShownMessage(status.message(), name), status.retryable()));
}

std::string ShownMessage(std::string_view message, std::string_view stored) {
  std::string out(message);
  const std::string_view shown = DisplayName(stored);
  if (shown.size() == stored.size()) return out;
  for (size_t at = out.find(stored); at != std::string::npos;
       at = out.find(stored, at + shown.size())) {
    out.replace(at, stored.size(), shown);
  }
  return out;
}

namespace {

// The parts of "arn:aws[-partition]:kinesis:<region>:<12 digits>:stream/<name>".
struct StreamArnParts {
  std::string_view region;
  std::string_view account;
  std::string_view name;
};

// nullopt when malformed.
std::optional<StreamArnParts> SplitStreamArn(std::string_view arn) {
  if (arn.substr(0, 7) != "arn:aws") return std::nullopt;
  const size_t marker = arn.find(":stream/");
  if (marker == std::string_view::npos || marker < 13) return std::nullopt;
  const std::string_view account = arn.substr(marker - 12, 12);
  if (arn[marker - 13] != ':' || account.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  const size_t service = arn.find(":kinesis:");
  if (service == std::string_view::npos || service + 9 > marker - 13) return std::nullopt;
  const std::string_view region = arn.substr(service + 9, marker - 13 - (service + 9));
  const std::string_view name = arn.substr(marker + 8);
  if (name.empty() || name.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
  return StreamArnParts{region, account, name};
}

}  // namespace

StreamRef ReadStreamRef(const HandlerContext& ctx, const FieldReader& r, Validator& v,
                        const rapidjson::Value& root, bool required) {
  StreamRef ref;
  const auto name = r.String(root, "StreamName");
  const auto arn = r.String(root, "StreamARN");
  std::optional<std::string_view> arn_name;
  if (arn) {
    const auto parts = SplitStreamArn(*arn);
    if (!parts || !StreamName::IsValid(parts->name) || !IsValidRegion(parts->region)) {
      // The model's pattern admits ARNs whose stream part we cannot take apart.
      ref.error = MakeError(ApiErrorType::kInvalidArgument,
                            fmt::format("StreamARN {} is not a valid stream ARN.", *arn));
      return ref;
    }
    if (parts->region != ctx.Region() || parts->account != ctx.account.account_id) {
      // Another region's or account's stream is not one this endpoint holds.
      ref.error = MakeError(
          ApiErrorType::kResourceNotFound,
          fmt::format("Stream {} under account {} not found.", parts->name, parts->account));
      return ref;
    }
    arn_name = parts->name;
  }
  if (required && !name && !arn) v.NotNull(false, "streamName");
  if (name && arn_name && *name != *arn_name) {
    ref.error = MakeError(
        ApiErrorType::kInvalidArgument,
        fmt::format("StreamARN {} and StreamName {} refer to different streams.", *arn, *name));
  }
  if (arn_name) {
    ref.name = StoredName(ctx, *arn_name);
  } else if (name) {
    ref.name = StoredName(ctx, *name);
  }
  return ref;
}

namespace {

// The stream of a consumer ARN (.../stream/<name>/consumer/<consumer>:<ts>) or a stream ARN;
// nullopt for anything else.
std::optional<std::string> StreamOfResourceArn(std::string_view arn) {
  const size_t marker = arn.find(":stream/");
  if (arn.substr(0, 7) != "arn:aws" || marker == std::string_view::npos) return std::nullopt;
  std::string_view name = arn.substr(marker + 8);
  name = name.substr(0, name.find('/'));
  if (!StreamName::IsValid(name)) return std::nullopt;
  return std::string(name);
}

}  // namespace

std::optional<ApiResponse> CheckStreamId(const HandlerContext& ctx, std::string_view stream_id,
                                         std::string_view stream,
                                         const storage::StreamAttributes& attributes) {
  if (stream_id == attributes.stream_id) return std::nullopt;
  return MakeError(ApiErrorType::kResourceNotFound,
                   fmt::format("Stream {} with StreamId {} under account {} not found.",
                               DisplayName(stream), stream_id, ctx.account.account_id));
}

std::optional<ApiResponse> CheckStreamId(const HandlerContext& ctx, const rapidjson::Value& root) {
  const FieldReader r;
  const auto stream_id = r.String(root, "StreamId");
  if (!stream_id) return std::nullopt;
  Validator ignored;  // a stream named by nothing is the handler's error to report
  std::optional<std::string> stream;
  const StreamRef ref = ReadStreamRef(ctx, r, ignored, root, /*required=*/false);
  if (ref.error) return std::nullopt;
  // `stream` is the store's name (in the request's region).
  if (ref.name) {
    stream = ref.name->get();
  } else if (auto arn = r.String(root, "ConsumerARN")) {
    if (auto plain = StreamOfResourceArn(*arn)) stream = StoredName(ctx, *plain).get();
  } else if (auto resource = r.String(root, "ResourceARN")) {
    if (auto plain = StreamOfResourceArn(*resource)) stream = StoredName(ctx, *plain).get();
  } else if (auto iterator = r.String(root, "ShardIterator")) {
    if (auto pos = DecodeShardIterator(*iterator, ctx.store->IteratorSecret())) {
      stream = pos->stream_name;
    }
  }
  if (!stream) return std::nullopt;
  auto attributes = ctx.store->GetStreamAttributes(StreamName(*stream));
  if (!attributes.ok()) return std::nullopt;
  return CheckStreamId(ctx, *stream_id, *stream, *attributes);
}

std::optional<ApiResponse> CheckRequest(const Validator& v) {
  if (!v.ok()) return v.Error();
  return std::nullopt;
}

bool ParseRequest(std::string_view operation, rapidjson::Document& doc, std::string_view body,
                  ApiResponse& out) {
  if (auto err = ParseJsonObject(doc, body)) {
    out = MakeError(ApiErrorType::kSerialization, *err);
    return false;
  }
  if (auto bad = ValidateRequest(operation, doc)) {
    out = std::move(*bad);
    return false;
  }
  return true;
}

void WriteHashKeyRange(JsonWriter& w, const HashKeyRange& range) {
  w.Key("HashKeyRange");
  w.StartObject();
  w.Key("StartingHashKey");
  w.TrustedString(HashKeyToDecimal(range.start));
  w.Key("EndingHashKey");
  w.TrustedString(HashKeyToDecimal(range.end));
  w.EndObject();
}

void WriteChildShards(JsonWriter& w, const std::vector<storage::ChildShard>& children) {
  w.Key("ChildShards");
  w.StartArray();
  for (const storage::ChildShard& child : children) {
    w.StartObject();
    w.Key("ShardId");
    w.String(child.id.get());
    w.Key("ParentShards");
    w.StartArray();
    for (const ShardId& parent : child.parents)
      w.String(parent.get());
    w.EndArray();
    WriteHashKeyRange(w, child.hash_range);
    w.EndObject();
  }
  w.EndArray();
}

void WriteShard(JsonWriter& w, const storage::ShardInfo& shard) {
  w.StartObject();
  w.Key("ShardId");
  w.String(shard.id.get());
  if (!shard.parent_shard_id.empty()) {
    w.Key("ParentShardId");
    w.String(shard.parent_shard_id);
  }
  if (!shard.adjacent_parent_shard_id.empty()) {
    w.Key("AdjacentParentShardId");
    w.String(shard.adjacent_parent_shard_id);
  }
  WriteHashKeyRange(w, shard.hash_range);
  w.Key("SequenceNumberRange");
  w.StartObject();
  w.Key("StartingSequenceNumber");
  w.TrustedString(shard.starting_sequence_number.get());
  if (shard.closed) {
    w.Key("EndingSequenceNumber");
    w.TrustedString(shard.ending_sequence_number.get());
  }
  w.EndObject();
  w.EndObject();
}

std::string_view StreamStatusName(storage::StreamStatus status) {
  switch (status) {
    case storage::StreamStatus::kCreating:
      return "CREATING";
    case storage::StreamStatus::kActive:
      return "ACTIVE";
    case storage::StreamStatus::kUpdating:
      return "UPDATING";
    case storage::StreamStatus::kDeleting:
      return "DELETING";
  }
  return "ACTIVE";
}

ApiResponse NotActiveError(const HandlerContext& ctx, std::string_view name,
                           storage::StreamStatus status) {
  return MakeError(
      ApiErrorType::kResourceInUse,
      fmt::format("Stream {} under account {} not ACTIVE, instead in state {}", DisplayName(name),
                  ctx.account.account_id, StreamStatusName(status)));
}

std::optional<ApiResponse> CheckStreamUsable(const HandlerContext& ctx, const StreamName& name) {
  const auto status = ctx.store->GetStreamStatus(name);
  if (!status.ok()) return StreamError(ctx, status.status(), name.get());
  if (*status == storage::StreamStatus::kCreating || *status == storage::StreamStatus::kDeleting) {
    return NotActiveError(ctx, name.get(), *status);
  }
  return std::nullopt;
}

bool IsCreatingOrDeleting(storage::StreamStatus status) {
  return status == storage::StreamStatus::kCreating || status == storage::StreamStatus::kDeleting;
}

void WriteMonitoringAndEncryption(JsonWriter& w, const storage::StreamAttributes& attributes) {
  w.Key("EnhancedMonitoring");
  w.StartArray();
  w.StartObject();
  w.Key("ShardLevelMetrics");
  w.StartArray();
  for (const std::string& metric : attributes.shard_level_metrics)
    w.String(metric);
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.Key("EncryptionType");
  w.String(attributes.encryption_type);
  if (!attributes.kms_key_id.empty()) {
    w.Key("KeyId");
    w.String(attributes.kms_key_id);
  }
}

void WriteStreamMode(JsonWriter& w, const storage::StreamAttributes& attributes) {
  w.Key("StreamModeDetails");
  w.StartObject();
  w.Key("StreamMode");
  w.String(attributes.mode == storage::StreamMode::kOnDemand ? "ON_DEMAND" : "PROVISIONED");
  w.EndObject();
}

std::string EncodePageToken(std::string_view kind, std::string_view payload) {
  std::string raw;
  raw.reserve(kind.size() + 1 + payload.size());
  raw.append(kind);
  raw.push_back('\n');
  raw.append(payload);
  std::string token;
  Base64Append(raw, token);
  return token;
}

std::optional<std::string> DecodePageToken(std::string_view kind, std::string_view token) {
  std::string raw(Base64MaxDecodedSize(token.size()), '\0');
  const auto n = Base64Decode(token, raw.data());
  if (!n) return std::nullopt;
  raw.resize(*n);
  if (raw.size() <= kind.size() || raw.compare(0, kind.size(), kind) != 0 ||
      raw[kind.size()] != '\n') {
    return std::nullopt;
  }
  return raw.substr(kind.size() + 1);
}

}  // namespace tideline::server
