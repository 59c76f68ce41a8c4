// The unit of work of a pipeline: records read from one shard, as they move through the
// transform chain to delivery.
//
// A RecordBatch owns everything its records point to: the bytes read from the store (one arena,
// copied once per read), bytes produced by processors, and parsed JSON values (a RapidJSON pool
// allocator freed with the batch). A record's data is either bytes (`data`) or a parsed JSON
// value (`json`); processors that need one form get it with Bytes() / Json(), which convert on
// demand, so a chain of JSON processors parses once and serializes once.
//
// Thread safety: a batch is used by one thread at a time.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "pipeline/block_pool.h"

namespace tideline::pipeline {

// Chunks come from the shared block pool (block_pool.h), so batches reuse memory.
using JsonAllocator = rapidjson::MemoryPoolAllocator<PooledChunkAllocator>;
using JsonValue = rapidjson::GenericValue<rapidjson::UTF8<>, JsonAllocator>;

// Firehose's transformation results.
enum class RecordResult : uint8_t {
  kOk,                // goes on to the next processor, then to the destination
  kDropped,           // handled: counts as done for the checkpoint, delivered nowhere
  kProcessingFailed,  // handled: written to the backup as a processing-failed record
};

std::string_view RecordResultName(RecordResult result);  // "Ok", "Dropped", "ProcessingFailed"

struct PipelineRecord {
  Offset offset;
  int64_t arrival_ms = 0;
  std::string_view partition_key;
  // The record as stored, for backups and for the Lambda contract's metadata. Never changes.
  std::string_view raw;
  // Current data as bytes; meaningful only while json == nullptr.
  std::string_view data;
  // Current data as a parsed JSON value owned by the batch, or nullptr.
  JsonValue* json = nullptr;
  RecordResult result = RecordResult::kOk;
  // Why the record failed (result == kProcessingFailed), as Firehose reports it, e.g.
  // "Lambda.FunctionError" / "AccessLog.ParseFailed" and a human-readable message.
  std::string error_code;
  std::string error_message;
  // Processing attempts that ended in the record's result (Firehose's attemptsMade). Default 1.
  int attempts = 1;
  // Set by RecordBatch::Seal: the data was a JSON object when it was serialized.
  bool is_json_object = false;

  bool ok() const { return result == RecordResult::kOk; }
};

// Deepest nesting of arrays and objects a record's JSON may have before the pipeline treats it
// as not JSON (PipelineOptions::max_document_depth).
inline constexpr uint32_t kDefaultMaxDocumentDepth = 100;
inline constexpr uint32_t kMaxMaxDocumentDepth = 1000;

class RecordBatch {
 public:
  // Record data parsed by Json() may nest at most `max_document_depth` levels (see
  // PipelineOptions::max_document_depth).
  RecordBatch(StreamName stream, ShardId shard, ShardUid shard_uid,
              uint32_t max_document_depth = kDefaultMaxDocumentDepth);
  ~RecordBatch();
  RecordBatch(const RecordBatch&) = delete;
  RecordBatch& operator=(const RecordBatch&) = delete;

  const StreamName& stream() const { return stream_; }
  const ShardId& shard() const { return shard_; }
  // The shard's uid, from which sequence numbers are derived.
  ShardUid shard_uid() const { return shard_uid_; }

  std::vector<PipelineRecord>& records() { return records_; }
  const std::vector<PipelineRecord>& records() const { return records_; }

  // Appends a record whose raw data, current data and partition key are copies (in the batch's
  // arena) of the given bytes.
  PipelineRecord& Add(Offset offset, int64_t arrival_ms, std::string_view partition_key,
                      std::string_view data);

  // Copies `bytes` into the batch; the view lives as long as the batch.
  std::string_view Keep(std::string_view bytes);
  // Takes ownership of `bytes` without copying; the view lives as long as the batch.
  std::string_view Keep(std::string&& bytes);

  // The allocator every JsonValue of this batch must use.
  JsonAllocator& allocator() { return json_allocator_; }

  // Replaces the record's data with bytes owned by the batch (or by the caller for as long as
  // the batch lives); drops any parsed form.
  void SetBytes(PipelineRecord& record, std::string_view bytes);
  // Replaces the record's data with a JSON value (moved; it must use allocator()).
  void SetJson(PipelineRecord& record, JsonValue&& value);

  // The record's data as bytes, serializing its JSON form (compact) when it has one.
  std::string_view Bytes(PipelineRecord& record);
  // The record's data as JSON, parsing its bytes when needed. Returns nullptr and leaves the
  // record untouched when the bytes are not one valid JSON value; `error` (if given) then says
  // why, with the byte offset.
  JsonValue* Json(PipelineRecord& record, std::string* error = nullptr);

  // The record's data as a JSON object, parsing it when needed. When the data is not valid JSON,
  // or is JSON but not an object, the record keeps its bytes, is marked ProcessingFailed with
  // `error_code` and a message saying which, and nullptr is returned.
  JsonValue* JsonObjectOrFail(PipelineRecord& record, std::string_view error_code);

  // Marks a record ProcessingFailed with Firehose-style error code and message.
  static void Fail(PipelineRecord& record, std::string code, std::string message);

  // Sequence number of a record of this batch (40 digits, see storage/sequence_number.h).
  SequenceNumber SequenceNumberOf(const PipelineRecord& record) const;

  // Ends the transform stage: serializes every Ok record's JSON form into bytes (noting
  // is_json_object) and frees the JSON pool, so a buffered batch holds bytes only. No JsonValue
  // of the batch may be used afterwards.
  void Seal();

  // Bytes held by the batch (arena and JSON pool), for memory accounting.
  size_t MemoryBytes() const;
  // Sum of the records' raw data sizes (what the buffer's size hint counts).
  size_t raw_bytes() const { return raw_bytes_; }
  // Arrival time (ms) of the batch's oldest record; 0 when it has none.
  int64_t oldest_arrival_ms() const { return oldest_arrival_ms_; }

  // The pipeline's reset epoch when the batch was read: a pipeline stamps it on each batch and
  // will not deliver or checkpoint a batch read before its last Reset. Default: 0
  uint64_t epoch() const { return epoch_; }
  void set_epoch(uint64_t epoch) { epoch_ = epoch; }

 private:
  StreamName stream_;
  ShardId shard_;
  ShardUid shard_uid_;
  std::vector<PipelineRecord> records_;
  // Stable storage: blocks of kPoolBlockBytes from the pool, filled in order, and values too
  // large for a block (or handed over as strings) on their own.
  std::vector<char*> blocks_;
  size_t block_used_ = 0;  // bytes used in blocks_.back()
  std::deque<std::string> owned_;
  size_t arena_bytes_ = 0;
  size_t raw_bytes_ = 0;
  int64_t oldest_arrival_ms_ = 0;
  uint32_t max_depth_;
  JsonAllocator json_allocator_;
  std::string scratch_;  // serialization buffer reused by Bytes()
  uint64_t epoch_ = 0;
};

// Dotted-path access to nested JSON objects ("geo.location.lat"). A path segment never
// contains '.'; arrays are not traversed.
// The value at `path`, or nullptr when some segment is missing or not an object.
JsonValue* FindField(JsonValue& root, std::string_view path);
// Sets `path` to `value`, creating intermediate objects; a non-object in the way is replaced.
// `root` must be an object. Returns false (and changes nothing) when it is not.
bool SetField(JsonValue& root, std::string_view path, JsonValue&& value, JsonAllocator& alloc);
// Removes `path`; returns whether it existed. The removed value is returned in `removed` when
// given (it stays valid: it lives in the batch's pool).
bool RemoveField(JsonValue& root, std::string_view path, JsonValue* removed = nullptr);
// Empty when `path` is a usable dotted path (non-empty segments), else what is wrong with it,
// e.g. "'a..b' has an empty segment", for option validation messages.
std::string FieldPathProblem(std::string_view path);

// "an object", "an array", "a string", ... for messages about unexpected JSON.
std::string_view JsonTypeName(const JsonValue& value);

}  // namespace tideline::pipeline
