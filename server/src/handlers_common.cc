#include "handlers_common.h"

#include <fmt/format.h>

#include "common/base64.h"
#include "model_validator.h"

namespace tideline::server {

std::string StreamArn(const HandlerContext& ctx, std::string_view name) {
  return fmt::format("arn:aws:kinesis:{}:{}:stream/{}", ctx.account.region, ctx.account.account_id,
                     name);
}

std::string StreamNotFoundMessage(const HandlerContext& ctx, std::string_view name) {
  return fmt::format("Stream {} under account {} not found.", name, ctx.account.account_id);
}

ApiResponse StreamError(const HandlerContext& ctx, const Status& status, std::string_view name) {
  if (status.code() == StatusCode::kNotFound) {
    return MakeError(ApiErrorType::kResourceNotFound, StreamNotFoundMessage(ctx, name));
  }
  return MakeErrorFromStatus(status);
}

namespace {

// arn:aws[-partition]:kinesis:<region>:<12 digits>:stream/<name>; nullopt when malformed.
std::optional<std::string_view> StreamNameFromArn(std::string_view arn) {
  if (arn.substr(0, 7) != "arn:aws") return std::nullopt;
  const size_t marker = arn.find(":stream/");
  if (marker == std::string_view::npos || marker < 13) return std::nullopt;
  const std::string_view account = arn.substr(marker - 12, 12);
  if (arn[marker - 13] != ':' || account.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  if (arn.find(":kinesis:") == std::string_view::npos) return std::nullopt;
  const std::string_view name = arn.substr(marker + 8);
  if (name.empty() || name.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
  return name;
}

}  // namespace

StreamRef ReadStreamRef(const FieldReader& r, Validator& v, const rapidjson::Value& root,
                        bool required) {
  StreamRef ref;
  const auto name = r.String(root, "StreamName");
  const auto arn = r.String(root, "StreamARN");
  std::optional<std::string_view> arn_name;
  if (arn) {
    arn_name = StreamNameFromArn(*arn);
    if (!arn_name || !StreamName::IsValid(*arn_name)) {
      // The model's pattern admits ARNs whose stream part we cannot take apart.
      ref.error = MakeError(ApiErrorType::kInvalidArgument,
                            fmt::format("StreamARN {} is not a valid stream ARN.", *arn));
      return ref;
    }
  }
  if (required && !name && !arn) v.NotNull(false, "streamName");
  if (name && arn_name && *name != *arn_name) {
    ref.error = MakeError(
        ApiErrorType::kInvalidArgument,
        fmt::format("StreamARN {} and StreamName {} refer to different streams.", *arn, *name));
  }
  if (arn_name) {
    ref.name = StreamName(std::string(*arn_name));
  } else if (name) {
    ref.name = StreamName(std::string(*name));
  }
  return ref;
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
  return MakeError(ApiErrorType::kResourceInUse,
                   fmt::format("Stream {} under account {} not ACTIVE, instead in state {}", name,
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
