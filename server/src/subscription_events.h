// The messages of SubscribeToShard's event stream (common/event_stream.h frames them): the
// initial-response event, SubscribeToShardEvent events read straight from the store, and the
// modeled exceptions that end a stream. Payloads are JSON, or CBOR for a request made in CBOR
// (the AWS SDK for Java's default), with the members GetRecords' records have in that protocol.
//
// Thread safety: plain functions; ReadEvent may run on any thread (the store is thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/types.h"
#include "storage/store.h"

namespace tideline::server {

enum class EventEncoding { kJson, kCbor };

// The first message of every subscription: ":event-type" initial-response, payload {} (what
// SDKs read the operation's non-stream output members from; SubscribeToShard has none).
std::string InitialResponseEvent(EventEncoding encoding);

// A modeled exception of SubscribeToShardEventStream (ResourceNotFoundException,
// ResourceInUseException, InternalFailureException, ...): ":message-type" exception, payload
// {"message": message}. The message ends the stream.
std::string ExceptionEvent(EventEncoding encoding, std::string_view type, std::string_view message);

// One SubscribeToShardEvent and what it covers.
struct ShardEvent {
  // The whole message; empty when `status` is an error.
  std::string bytes;
  // Records in it, and their data + partition key bytes.
  size_t records = 0;
  size_t record_bytes = 0;
  // The offset to read from next: one past the last record in the event.
  Offset next{1};
  // Nothing more was readable in the shard when the event was read (MillisBehindLatest 0).
  bool at_tip = false;
  // The shard is closed and read to its end: the event is the stream's last, with ChildShards
  // and no ContinuationSequenceNumber (how clients such as the KCL recognise a shard's end).
  bool shard_end = false;
  // The store's error (NotFound: the stream or shard is gone); no event then.
  Status status;
};

// Reads records of `shard` (sequence numbers of `shard_uid`) from `from` within `limits` and
// encodes them as one SubscribeToShardEvent: Records as GetRecords returns them (Data base64 in
// JSON, a byte string in CBOR; ApproximateArrivalTimestamp; PartitionKey; SequenceNumber),
// ContinuationSequenceNumber = the sequence number of the last record included (or of the
// offset before `from` when there is none, so that AFTER_SEQUENCE_NUMBER with it resumes exactly
// here, on an empty shard too), MillisBehindLatest as GetRecords computes it from `now_ms`. A
// closed shard read to its end gives the final event (ShardEvent::shard_end); records before
// the end always come in an event of their own first. JSON events are written once, straight
// into the message buffer.
ShardEvent ReadEvent(const storage::Store& store, const StreamName& stream, const ShardId& shard,
                     ShardUid shard_uid, Offset from, const storage::ReadLimits& limits,
                     int64_t now_ms, EventEncoding encoding);

}  // namespace tideline::server
