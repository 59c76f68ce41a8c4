// Pieces shared by the handlers: stream addressing (StreamName / StreamARN), standard error
// messages, and the JSON shapes several operations return.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <rapidjson/document.h>

#include "api_types.h"
#include "errors.h"
#include "handlers.h"
#include "json_util.h"
#include "storage/sequence_number.h"
#include "validation.h"

namespace tideline::server {

// Stream names in and out of the store. Handlers pass the store's names (StreamRef::name,
// StreamInfo::name: "<region>:<name>" for a stream of another region than the default,
// common/regional_stream.h) to the store, and every name, ARN and message they answer with
// names the stream as its user does: without the region (DisplayName), in the request's region.

// The store's name for stream `name` of the request's region.
StreamName StoredName(const HandlerContext& ctx, std::string_view name);
// The stream's own name: `stored` without its region.
std::string_view DisplayName(std::string_view stored);
// Whether the stream stored as `stored` belongs to the request's region.
bool InRequestRegion(const HandlerContext& ctx, std::string_view stored);

// "arn:aws:kinesis:<request region>:<account>:stream/<name>"; `name` plain or stored.
std::string StreamArn(const HandlerContext& ctx, std::string_view name);
// "Stream foo under account 123456789012 not found."; `name` plain or stored.
std::string StreamNotFoundMessage(const HandlerContext& ctx, std::string_view name);
// NotFound becomes ResourceNotFoundException with the standard message; the rest goes
// through the error table, with the stored name `name` in the store's message replaced by the
// stream's own.
ApiResponse StreamError(const HandlerContext& ctx, const Status& status, std::string_view name);
// `message` (the store's) with the stored name `stored` replaced by the stream's own.
std::string ShownMessage(std::string_view message, std::string_view stored);

// Which stream a request names. Either field may be given (StreamARN wins); both naming
// different streams is an InvalidArgumentException. A StreamARN of another region or account
// than the request's names a stream that does not exist here: ResourceNotFoundException.
struct StreamRef {
  std::optional<StreamName> name;    // the store's name, in the request's region
  std::optional<ApiResponse> error;  // InvalidArgument or ResourceNotFound found while resolving
};
// Reads StreamName/StreamARN from a validated `root` (the model checked their length and
// pattern). When `required` and neither is present, reports "Value null at 'streamName'" to `v`.
StreamRef ReadStreamRef(const HandlerContext& ctx, const FieldReader& r, Validator& v,
                        const rapidjson::Value& root, bool required);

// A request's StreamId (reserved by Kinesis for future use) must be the id of the stream the
// request names, through StreamName/StreamARN, a consumer or resource ARN, or a shard iterator;
// otherwise ResourceNotFoundException, as for a stream that no longer exists. Nullopt when the
// request has no StreamId, names no stream, or names one that does not exist (the handler then
// answers as it would without the id).
std::optional<ApiResponse> CheckStreamId(const HandlerContext& ctx, const rapidjson::Value& root);
// The same check once the stream's attributes are in hand.
std::optional<ApiResponse> CheckStreamId(const HandlerContext& ctx, std::string_view stream_id,
                                         std::string_view stream,
                                         const storage::StreamAttributes& attributes);

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
// One record as GetRecords and SubscribeToShardEvent return it: SequenceNumber,
// ApproximateArrivalTimestamp, Data (base64), PartitionKey.
inline void WriteRecord(JsonWriter& w, ShardUid shard, const storage::RecordView& record) {
  w.StartObject();
  w.Key("SequenceNumber");
  w.TrustedString(SequenceNumberOf(shard, record.offset).get());
  w.Key("ApproximateArrivalTimestamp");
  w.EpochSeconds(record.arrival_ms);
  w.Key("Data");
  w.Base64String(record.data);
  w.Key("PartitionKey");
  w.String(record.partition_key);
  w.EndObject();
}
// The "ChildShards" member of a closed shard read to its end (GetRecords, SubscribeToShardEvent).
void WriteChildShards(JsonWriter& w, const std::vector<storage::ChildShard>& children);
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

// The ACTIVE consumer a ConsumerARN names (SubscribeToShard; handlers_attributes.cc): its
// stream (the store's name), its name and its ARN as Kinesis writes it. Otherwise the error:
// ResourceNotFoundException for an ARN of another region or account, an unknown stream or
// consumer (or one whose creation time differs); ResourceInUseException for a consumer CREATING
// or DELETING.
struct ActiveConsumer {
  StreamName stream;
  std::string name;
  std::string arn;
};
std::variant<ActiveConsumer, ApiResponse> FindActiveConsumer(const HandlerContext& ctx,
                                                             std::string_view consumer_arn);
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
