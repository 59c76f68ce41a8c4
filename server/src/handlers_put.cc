// PutRecord and PutRecords: parse in place, decode every Data blob into one buffer owned by the
// request, validate with Kinesis's limits, then hand the batch to Store::AppendAsync. The
// response is produced on the writer thread once the batch is durable.
#include <algorithm>

#include <fmt/format.h>

#include "common/base64.h"
#include "handlers.h"
#include "handlers_common.h"
#include "model_validator.h"
#include "throughput_limiter.h"

namespace tideline::server {
namespace {

using storage::AppendedRecord;
using storage::AppendRecord;

constexpr size_t kDefaultMaxDataBytes = size_t{storage::kDefaultMaxRecordSizeKiB} << 10;

// What the throughput limits decided for a request's records (only when they are on).
struct Throttle {
  std::shared_ptr<const StreamShards> shards;     // keeps the routes' shard ids alive
  std::vector<const StreamShards::Route*> route;  // per record; null when no open shard owns it
  std::vector<uint8_t> refused;                   // per record
  size_t refused_count = 0;
  std::vector<AppendRecord> admitted;  // the records appended, when some were refused
  uint64_t admitted_bytes = 0;
};

// Everything the append's views point into; alive until the append's callback has run.
struct PutBatch {
  std::shared_ptr<std::string> body;  // parsed in place: partition keys point into it
  rapidjson::Document doc;
  std::unique_ptr<char[]> data;  // every decoded Data blob, back to back
  std::vector<AppendRecord> records;
  uint64_t bytes = 0;                  // data + partition keys
  size_t largest_data = 0;             // the largest Data
  std::unique_ptr<Throttle> throttle;  // set when throughput limits are on
};

struct EntryFields {
  std::optional<std::string_view> data_b64, key, hash_key;
};

// Reads one entry's members.
EntryFields ReadEntry(const FieldReader& r, const rapidjson::Value& entry) {
  EntryFields f;
  f.data_b64 = r.String(entry, "Data");
  f.key = r.String(entry, "PartitionKey");
  f.hash_key = r.String(entry, "ExplicitHashKey");
  return f;
}

// Decodes the entries (validated against the model, which holds Data to 10 MiB) into
// batch.records.
std::optional<ApiResponse> BuildRecords(PutBatch& batch, const std::vector<EntryFields>& entries) {
  size_t max_decoded = 0;
  for (const EntryFields& e : entries) {
    if (e.data_b64) max_decoded += Base64MaxDecodedSize(e.data_b64->size());
  }
  // Every byte is overwritten by the decoder: no zero fill of up to 5 MB per request.
  batch.data = std::make_unique_for_overwrite<char[]>(max_decoded);
  size_t used = 0;
  batch.records.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const EntryFields& e = entries[i];
    std::string_view data;
    if (e.data_b64) {
      const auto n = Base64Decode(*e.data_b64, batch.data.get() + used);
      if (!n) {  // the model check admits canonical base64 only
        return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
      }
      data = std::string_view(batch.data.get() + used, *n);
      used += *n;
      batch.largest_data = std::max(batch.largest_data, data.size());
    }
    const std::string_view key = e.key.value_or("");
    batch.records.push_back(AppendRecord{key, e.hash_key.value_or(""), data});
    batch.bytes += data.size() + key.size();
  }
  return std::nullopt;
}

// Holds every Data to the stream's maximum record size, as Kinesis's validation does.
void CheckRecordSizes(const PutBatch& batch, bool list, size_t max_bytes, Validator& v) {
  if (batch.largest_data <= max_bytes) return;
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const size_t n = batch.records[i].data.size();
    if (n <= max_bytes) continue;
    // Messages are only formatted for the entries that fail: nothing allocated per record.
    v.LengthOf(n, fmt::format("'java.nio.HeapByteBuffer[pos=0 lim={} cap={}]'", n, n),
               list ? fmt::format("records.{}.member.data", i + 1) : std::string("data"), 0,
               max_bytes);
  }
}

// ExplicitHashKey values above 2^128 - 1 pass the pattern but not Kinesis's range check.
std::optional<ApiResponse> CheckHashKeyRanges(const PutBatch& batch) {
  for (const AppendRecord& rec : batch.records) {
    if (!rec.explicit_hash_key.empty() && !ParseHashKey(rec.explicit_hash_key)) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       fmt::format("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                                   "[0, 2^128-1]. Specified value was {}",
                                   rec.explicit_hash_key));
    }
  }
  return std::nullopt;
}

// Whole-request errors (the stream, the arguments, a server refusing writes for want of disk:
// 503, which every SDK retries with backoff) versus failures of the write itself, which Kinesis
// reports per record with HTTP 200.
bool IsRequestError(StatusCode code) {
  return code == StatusCode::kNotFound || code == StatusCode::kInvalidArgument ||
         code == StatusCode::kLimitExceeded || code == StatusCode::kResourceInUse ||
         code == StatusCode::kUnavailable;
}

ApiResponse PutRecordsResponse(const PutBatch& batch,
                               const Result<std::vector<AppendedRecord>>& result,
                               std::string_view stream, std::string_view account) {
  // Records refused by the throughput limits fail on their own; `result` holds the others.
  const Throttle* throttle =
      batch.throttle && batch.throttle->refused_count > 0 ? batch.throttle.get() : nullptr;
  const size_t refused = throttle ? throttle->refused_count : 0;
  const size_t appended = batch.records.size() - refused;
  JsonWriter w;
  w.Reserve(64 + batch.records.size() * 100);
  w.StartObject();
  w.Key("FailedRecordCount");
  w.Uint64(refused + (result.ok() ? 0 : appended));
  w.Key("Records");
  w.StartArray();
  size_t next = 0;  // index into *result
  for (size_t i = 0; i < batch.records.size(); ++i) {
    w.StartObject();
    if (throttle && throttle->refused[i]) {
      w.Key("ErrorCode");
      w.String("ProvisionedThroughputExceededException");
      w.Key("ErrorMessage");
      w.String(WriteThrottledMessage(*throttle->route[i]->shard_id, stream, account));
    } else if (result.ok()) {
      const AppendedRecord& rec = (*result)[next++];
      w.Key("SequenceNumber");
      w.TrustedString(rec.sequence_number.get());
      w.Key("ShardId");
      w.String(rec.shard_id.get());
    } else if (result.status().code() == StatusCode::kThrottled) {
      // The append queue is full: AWS's per-record throttling answer, which producers retry.
      w.Key("ErrorCode");
      w.String("ProvisionedThroughputExceededException");
      w.Key("ErrorMessage");
      w.String(result.status().message());
    } else {
      w.Key("ErrorCode");
      w.String("InternalFailure");
      w.Key("ErrorMessage");
      w.String("Internal service failure.");
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("EncryptionType");
  w.String("NONE");
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  if (result.ok()) {
    resp.records = appended;
    resp.bytes = throttle ? throttle->admitted_bytes : batch.bytes;
  }
  return resp;
}

ApiResponse PutRecordResponse(const PutBatch& batch, const AppendedRecord& rec) {
  JsonWriter w;
  w.StartObject();
  w.Key("ShardId");
  w.String(rec.shard_id.get());
  w.Key("SequenceNumber");
  w.TrustedString(rec.sequence_number.get());
  w.Key("EncryptionType");
  w.String("NONE");
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  resp.records = 1;
  resp.bytes = batch.bytes;
  return resp;
}

// Parses the body of either operation into `batch`; returns the error response if any.
// The body is parsed once, in place, and that parse is what the model validates (the handler
// is not behind Api's validation: a second parse of up to 5 MB would cost on the hot path).
std::optional<ApiResponse> ParsePut(const HandlerContext& ctx, PutBatch& batch, bool list,
                                    StreamName& stream) {
  if (auto err = ParseJsonObjectInsitu(batch.doc, *batch.body)) {
    return MakeError(ApiErrorType::kSerialization, *err);
  }
  if (auto bad = ValidateRequest(list ? "PutRecords" : "PutRecord", batch.doc)) return bad;
  const FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, batch.doc, /*required=*/true);
  std::vector<EntryFields> entries;
  if (list) {
    const rapidjson::Value* recs = r.Array(batch.doc, "Records");
    if (recs) {
      entries.reserve(recs->Size());
      for (const rapidjson::Value& e : recs->GetArray()) {
        if (e.IsObject()) entries.push_back(ReadEntry(r, e));
      }
    }
  } else {
    entries.push_back(ReadEntry(r, batch.doc));
  }
  if (auto bad = BuildRecords(batch, entries)) return bad;
  // The stream's settings matter only for records above the default limits or a StreamId, so
  // the common append does not look them up.
  uint32_t max_kib = storage::kDefaultMaxRecordSizeKiB;
  const auto stream_id = r.String(batch.doc, "StreamId");
  std::optional<ApiResponse> wrong_id;
  if (ref.name && !ref.error &&
      (stream_id || batch.largest_data > kDefaultMaxDataBytes ||
       (list && batch.bytes > PutRecordsBatchBytes(max_kib)))) {
    auto attributes = ctx.store->GetStreamAttributes(*ref.name);
    if (attributes.ok()) {  // a missing stream is the append's NotFound
      max_kib = attributes->max_record_size_kib;
      if (stream_id) wrong_id = CheckStreamId(ctx, *stream_id, ref.name->get(), *attributes);
    }
  }
  CheckRecordSizes(batch, list, size_t{max_kib} << 10, v);
  if (auto bad = CheckRequest(v)) return bad;
  if (ref.error) return ref.error;
  if (wrong_id) return wrong_id;
  const size_t batch_limit = PutRecordsBatchBytes(max_kib);
  if (list && batch.bytes > batch_limit) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("Records size exceeds {} MB limit", batch_limit >> 20));
  }
  if (auto bad = CheckHashKeyRanges(batch)) return bad;
  stream = *ref.name;
  return std::nullopt;
}

// The response for a completed append: a whole-request error, or the operation's output.
ApiResponse AppendResponse(const PutBatch& batch, const Result<std::vector<AppendedRecord>>& result,
                           bool list, const StreamName& stream, const std::string& account) {
  if (!result.ok() && (!list || IsRequestError(result.status().code()))) {
    if (result.status().code() == StatusCode::kNotFound) {
      return MakeError(
          ApiErrorType::kResourceNotFound,
          fmt::format("Stream {} under account {} not found.", DisplayName(stream.get()), account));
    }
    return MakeErrorFromStatus(result.status());
  }
  if (list) return PutRecordsResponse(batch, result, stream.get(), account);
  if (result->size() != 1) {
    return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  }
  return PutRecordResponse(batch, result->front());
}

// Takes each record from its shard's buckets. Returns the whole answer when nothing is left to
// append: a refused PutRecord, or a PutRecords whose records were all refused. Otherwise
// batch.throttle says which records go on (all of batch.records when none was refused).
std::optional<ApiResponse> ApplyLimits(const HandlerContext& ctx, PutBatch& batch,
                                       const StreamName& stream, bool list) {
  ThroughputLimiter& limiter = *ctx.limiter;
  std::shared_ptr<const StreamShards> shards = limiter.ForWrites(stream, *ctx.store);
  if (!shards) return std::nullopt;  // no such stream: the append answers that
  auto t = std::make_unique<Throttle>();
  const size_t n = batch.records.size();
  t->route.resize(n);
  t->refused.assign(n, 0);
  const int64_t now = limiter.NowNs();
  for (size_t i = 0; i < n; ++i) {
    const AppendRecord& rec = batch.records[i];
    // ExplicitHashKey was range-checked by ParsePut.
    const HashKey key = rec.explicit_hash_key.empty()
                            ? HashKeyFromPartitionKey(rec.partition_key)
                            : ParseHashKey(rec.explicit_hash_key).value_or(0);
    const StreamShards::Route* route = shards->RouteOf(key);
    t->route[i] = route;
    if (route == nullptr) continue;  // a table older than a reshard: the next one routes it
    const int64_t bytes = static_cast<int64_t>(rec.data.size() + rec.partition_key.size());
    if (!route->buckets->TryWrite(bytes, now)) {
      t->refused[i] = 1;
      ++t->refused_count;
    }
  }
  t->shards = std::move(shards);
  if (!list && t->refused_count == 1) {
    return MakeError(
        ApiErrorType::kProvisionedThroughputExceeded,
        WriteThrottledMessage(*t->route[0]->shard_id, stream.get(), ctx.account.account_id));
  }
  if (t->refused_count > 0) {
    t->admitted.reserve(n - t->refused_count);
    for (size_t i = 0; i < n; ++i) {
      if (t->refused[i]) continue;
      t->admitted.push_back(batch.records[i]);
      t->admitted_bytes += batch.records[i].data.size() + batch.records[i].partition_key.size();
    }
  }
  batch.throttle = std::move(t);
  if (batch.throttle->refused_count == n) {
    return PutRecordsResponse(batch, std::vector<AppendedRecord>{}, stream.get(),
                              ctx.account.account_id);
  }
  return std::nullopt;
}

// After an append with limits on: a record the store put in another shard than the one it was
// charged to means the stream was resharded behind the limiter's back, so it reloads its table.
void CheckRoutes(ThroughputLimiter& limiter, const PutBatch& batch,
                 const Result<std::vector<AppendedRecord>>& result, const StreamName& stream) {
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kNotFound) limiter.Forget(stream.get());
    return;
  }
  const Throttle& t = *batch.throttle;
  size_t next = 0;
  for (size_t i = 0; i < batch.records.size() && next < result->size(); ++i) {
    if (t.refused[i]) continue;
    const AppendedRecord& rec = (*result)[next++];
    if (t.route[i] == nullptr || *t.route[i]->shard_id != rec.shard_id.get()) {
      limiter.Invalidate(stream.get());
      return;
    }
  }
}

void Put(const HandlerContext& ctx, std::shared_ptr<std::string> body, ResponseCallback done,
         const RespondOn& respond_on, bool list) {
  auto batch = std::make_shared<PutBatch>();
  batch->body = std::move(body);
  StreamName stream;
  if (auto bad = ParsePut(ctx, *batch, list, stream)) {
    done(std::move(*bad));
    return;
  }
  const std::string account = ctx.account.account_id;
  // A CREATING stream is not there yet for producers, a DELETING one not any more (checked
  // before the throughput limits, so a refused request takes nothing from the buckets).
  const auto status = ctx.store->GetStreamStatus(stream);
  if (!status.ok() || IsCreatingOrDeleting(*status)) {
    done(AppendResponse(*batch, Status::NotFound("stream"), list, stream, account));
    return;
  }
  std::span<const AppendRecord> records(batch->records);
  ThroughputLimiter* limiter = ctx.limiter;
  if (limiter != nullptr) [[unlikely]] {
    if (auto answer = ApplyLimits(ctx, *batch, stream, list)) {
      done(std::move(*answer));
      return;
    }
    if (batch->throttle && batch->throttle->refused_count > 0) records = batch->throttle->admitted;
  }
  ctx.store->AppendAsync(stream, records,
                         [batch, done = std::move(done), stream, account, list, respond_on,
                          limiter](Result<std::vector<AppendedRecord>> result) mutable {
                           auto respond = [batch, done = std::move(done),
                                           stream = std::move(stream), account = std::move(account),
                                           list, limiter, result = std::move(result)] {
                             if (limiter != nullptr && batch->throttle)
                               CheckRoutes(*limiter, *batch, result, stream);
                             done(AppendResponse(*batch, result, list, stream, account));
                           };
                           if (respond_on) {
                             respond_on(std::move(respond));
                           } else {
                             respond();
                           }
                         });
}

}  // namespace

void HandlePutRecord(const HandlerContext& ctx, std::shared_ptr<std::string> body,
                     ResponseCallback done, const RespondOn& respond_on) {
  Put(ctx, std::move(body), std::move(done), respond_on, /*list=*/false);
}

void HandlePutRecords(const HandlerContext& ctx, std::shared_ptr<std::string> body,
                      ResponseCallback done, const RespondOn& respond_on) {
  Put(ctx, std::move(body), std::move(done), respond_on, /*list=*/true);
}

}  // namespace tideline::server
