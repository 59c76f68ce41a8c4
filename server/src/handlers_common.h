// Pieces shared by the handlers: stream addressing (StreamName / StreamARN), standard error
// messages, and the JSON shapes several operations return.
#pragma once

#include <map>
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
// Reads StreamName/StreamARN from a validated `root` (the model checked their length and
// pattern). When `required` and neither is present, reports "Value null at 'streamName'" to `v`.
StreamRef ReadStreamRef(const FieldReader& r, Validator& v, const rapidjson::Value& root,
                        bool required);

// ValidationException for the collected violations, else nullopt.
std::optional<ApiResponse> CheckRequest(const Validator& v);

// Parses `body` and validates it against `operation`'s input shape in the service model
// (model_validator.h); on failure `out` holds the SerializationException or
// ValidationException. Every handler reads its request through this (or, for the appends,
// through ValidateRequest on its in-place parse), so handlers see only conforming requests.
bool ParseRequest(std::string_view operation, rapidjson::Document& doc, std::string_view body,
                  ApiResponse& out);

// A "HashKeyRange" member: {"StartingHashKey", "EndingHashKey"} in decimal.
void WriteHashKeyRange(JsonWriter& w, const HashKeyRange& range);
// One Shard object as DescribeStream and ListShards return it.
void WriteShard(JsonWriter& w, const storage::ShardInfo& shard);
// "CREATING", "ACTIVE", "UPDATING" or "DELETING".
std::string_view StreamStatusName(storage::StreamStatus status);
inline std::string_view StreamStatusName(const storage::StreamInfo& info) {
  return StreamStatusName(info.status);
}

// Kinesis's refusal of an operation that needs the stream ACTIVE: ResourceInUseException
// "Stream NAME under account ID not ACTIVE, instead in state STATE".
ApiResponse NotActiveError(const HandlerContext& ctx, std::string_view name,
                           storage::StreamStatus status);
// For the operations whose errors include ResourceInUseException (changes of a stream's
// shards, retention, tags, mode, encryption, monitoring, policies, consumers; ListShards):
// the error when the stream does not exist (ResourceNotFoundException) or is CREATING or
// DELETING (NotActiveError). UPDATING passes; reshards refuse it themselves.
std::optional<ApiResponse> CheckStreamUsable(const HandlerContext& ctx, const StreamName& name);
// CREATING or DELETING. The data operations, whose only stream error is
// ResourceNotFoundException (PutRecord, PutRecords, GetShardIterator, GetRecords), answer a
// stream in either state as one that does not exist yet or any more.
bool IsCreatingOrDeleting(storage::StreamStatus status);
// EnhancedMonitoring, EncryptionType and KeyId members of the descriptions.
void WriteMonitoringAndEncryption(JsonWriter& w, const storage::StreamAttributes& attributes);
// StreamModeDetails of the descriptions.
void WriteStreamMode(JsonWriter& w, const storage::StreamAttributes& attributes);

// Consumers of the stream that are registered (CREATING or ACTIVE), as ConsumerCount counts
// them (handlers_attributes.cc).
size_t CountConsumers(const HandlerContext& ctx, const storage::StreamAttributes& attributes);
// CreateStream's Tags into `tags`, with AddTagsToStream's rules; the error response when they
// break one.
std::optional<ApiResponse> ReadCreationTags(const HandlerContext& ctx, std::string_view stream,
                                            const rapidjson::Value* tags,
                                            std::map<std::string, std::string>& out);

// Opaque pagination tokens (ListStreams, ListShards): base64 of "<kind>\n<fields...>".
std::string EncodePageToken(std::string_view kind, std::string_view payload);
std::optional<std::string> DecodePageToken(std::string_view kind, std::string_view token);

}  // namespace tideline::server
