#include "subscription_events.h"

#include <algorithm>
#include <span>

#include "cbor_codec.h"
#include "common/event_stream.h"
#include "handlers_common.h"
#include "json_util.h"

namespace tideline::server {
namespace {

constexpr std::string_view kJsonContentType = "application/json";
constexpr std::string_view kEventType = "SubscribeToShardEvent";

std::string_view ContentType(EventEncoding encoding) {
  return encoding == EventEncoding::kCbor ? cbor::kContentType : kJsonContentType;
}

// `json` (a document we wrote) as the payload the encoding wants. The CBOR shapes of the
// event's records are GetRecords' (same member paths); an error body has no blobs.
std::string Payload(EventEncoding encoding, std::string_view operation, std::string json) {
  if (encoding == EventEncoding::kJson) return json;
  Result<std::string> encoded = cbor::EncodeResponse(operation, json);
  // Only a bug of ours (JSON that is not JSON) fails here; an empty map keeps the stream
  // well-formed all the same.
  return encoded.ok() ? std::move(encoded.value()) : std::string("\xa0", 1);
}

}  // namespace

std::string InitialResponseEvent(EventEncoding encoding) {
  std::string out;
  eventstream::AppendEvent(out, "initial-response", ContentType(encoding),
                           Payload(encoding, {}, "{}"));
  return out;
}

std::string ExceptionEvent(EventEncoding encoding, std::string_view type,
                           std::string_view message) {
  JsonWriter w;
  w.StartObject();
  w.Key("message");
  w.String(message);
  w.EndObject();
  std::string out;
  eventstream::AppendException(out, type, ContentType(encoding), Payload(encoding, {}, w.Take()));
  return out;
}

ShardEvent ReadEvent(const storage::Store& store, const StreamName& stream, const ShardId& shard,
                     ShardUid shard_uid, Offset from, const storage::ReadLimits& limits,
                     int64_t now_ms, EventEncoding encoding) {
  ShardEvent event;
  JsonWriter w;
  // JSON is framed in place: the prelude and headers go before the document, the CRC after.
  const size_t prefix = encoding == EventEncoding::kJson
                            ? eventstream::EventPrefixSize(kEventType, kJsonContentType)
                            : 0;
  w.Envelope(prefix);
  w.StartObject();
  w.Key("Records");
  w.StartArray();
  int64_t last_arrival = 0;
  auto summary = store.Read(stream, shard, from, limits, [&](const storage::RecordView& record) {
    WriteRecord(w, shard_uid, record);
    last_arrival = record.arrival_ms;
  });
  if (!summary.ok()) {
    event.status = summary.status();
    return event;
  }
  w.EndArray();
  event.records = summary->records;
  event.record_bytes = summary->bytes;
  event.next = summary->next;
  event.at_tip = summary->next.get() > summary->last_offset.get();
  // Records before a shard's end go out first, so that the last event carries only the end.
  event.shard_end = summary->shard_end && summary->records == 0;
  if (!event.shard_end) {
    w.Key("ContinuationSequenceNumber");
    w.TrustedString(SequenceNumberOf(shard_uid, Offset(event.next.get() - 1)).get());
  }
  w.Key("MillisBehindLatest");
  w.Int64(event.at_tip || event.records == 0 ? 0 : std::max<int64_t>(0, now_ms - last_arrival));
  if (event.shard_end) WriteChildShards(w, summary->children);
  w.EndObject();
  if (encoding == EventEncoding::kJson) {
    w.Envelope(4);  // the message CRC
    event.bytes = w.Take();
    eventstream::FinishEvent(std::span<char>(event.bytes.data(), event.bytes.size()), kEventType,
                             kJsonContentType);
    return event;
  }
  eventstream::AppendEvent(event.bytes, kEventType, ContentType(encoding),
                           Payload(encoding, "GetRecords", w.Take()));
  return event;
}

}  // namespace tideline::server
