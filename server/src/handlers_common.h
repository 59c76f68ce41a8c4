// Pieces shared by the handlers: stream addressing (StreamName / StreamARN), standard error
// messages, and the JSON shapes several operations return.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "api_types.h"
#include "errors.h"
#include "handlers.h"
#include "json_util.h"
#include "validation.h"

namespace tideline::server {

std::string StreamArn(const HandlerContext& ctx, std::string_view name);
// "Stream foo under account 123456789012 not found."
std::string StreamNotFoundMessage(const HandlerContext& ctx, std::string_view name);
// NotFound becomes ResourceNotFoundException with the standard message; the rest goes
// through the error table.
ApiResponse StreamError(const HandlerContext& ctx, const Status& status, std::string_view name);

// Which stream a request names. Either field may be given (StreamARN wins); both naming
// different streams is an InvalidArgumentException.
struct StreamRef {
  std::optional<StreamName> name;
  std::optional<ApiResponse> error;  // InvalidArgument found while resolving
};
// Reads StreamName/StreamARN from `root`, adding constraint violations to `v`. When `required`
// and neither is present, reports "Value null at 'streamName'".
StreamRef ReadStreamRef(FieldReader& r, Validator& v, const rapidjson::Value& root, bool required);

// SerializationException for the first wrong JSON type, else ValidationException for the
// collected constraint violations, else nullopt.
std::optional<ApiResponse> CheckRequest(const FieldReader& r, const Validator& v);

// Parses `body`; on failure `out` holds the SerializationException.
bool ParseBody(rapidjson::Document& doc, std::string_view body, ApiResponse& out);

// One Shard object as DescribeStream and ListShards return it.
void WriteShard(JsonWriter& w, const storage::ShardInfo& shard);
// "ACTIVE" or "UPDATING" (a reshard ran moments ago).
std::string_view StreamStatusName(const storage::StreamInfo& info);
// EnhancedMonitoring (none enabled) / EncryptionType (NONE) members of the descriptions.
void WriteMonitoringAndEncryption(JsonWriter& w);
// StreamModeDetails (PROVISIONED) and the members above.
void WriteStreamConstants(JsonWriter& w);

// Opaque pagination tokens (ListStreams, ListShards): base64 of "<kind>\n<fields...>".
std::string EncodePageToken(std::string_view kind, std::string_view payload);
std::optional<std::string> DecodePageToken(std::string_view kind, std::string_view token);

}  // namespace tideline::server
