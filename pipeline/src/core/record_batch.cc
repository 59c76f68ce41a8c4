#include "pipeline/record_batch.h"

#include <rapidjson/error/en.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <utility>

#include "common/json_parse.h"
#include "common/json_write.h"
#include "storage/sequence_number.h"

namespace tideline::pipeline {
namespace {}  // namespace

std::string_view RecordResultName(RecordResult result) {
  switch (result) {
    case RecordResult::kOk:
      return "Ok";
    case RecordResult::kDropped:
      return "Dropped";
    case RecordResult::kProcessingFailed:
      return "ProcessingFailed";
  }
  return "Unknown";
}

// The JSON pool's chunks carry a small header; sized so that header + chunk fit a pool block.
constexpr size_t kJsonChunkBytes = kPoolBlockBytes - 64;

RecordBatch::RecordBatch(StreamName stream, ShardId shard, ShardUid shard_uid,
                         uint32_t max_document_depth)
    : stream_(std::move(stream)),
      shard_(std::move(shard)),
      shard_uid_(shard_uid),
      max_depth_(max_document_depth),
      json_allocator_(kJsonChunkBytes) {}

RecordBatch::~RecordBatch() {
  for (char* block : blocks_)
    FreeBlock(block);
}

PipelineRecord& RecordBatch::Add(Offset offset, int64_t arrival_ms, std::string_view partition_key,
                                 std::string_view data) {
  PipelineRecord& r = records_.emplace_back();
  r.offset = offset;
  r.arrival_ms = arrival_ms;
  r.partition_key = Keep(partition_key);
  r.raw = Keep(data);
  r.data = r.raw;
  raw_bytes_ += data.size();
  if (oldest_arrival_ms_ == 0 || arrival_ms < oldest_arrival_ms_) oldest_arrival_ms_ = arrival_ms;
  return r;
}

std::string_view RecordBatch::Keep(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (bytes.size() > kPoolBlockBytes / 4) {
    // Large values get storage of their own so the shared blocks stay dense.
    arena_bytes_ += bytes.size();
    return owned_.emplace_back(bytes);
  }
  if (blocks_.empty() || kPoolBlockBytes - block_used_ < bytes.size()) {
    blocks_.push_back(static_cast<char*>(AllocateBlock(kPoolBlockBytes)));
    block_used_ = 0;
    arena_bytes_ += kPoolBlockBytes;
  }
  char* dst = blocks_.back() + block_used_;
  std::copy(bytes.begin(), bytes.end(), dst);
  block_used_ += bytes.size();
  return {dst, bytes.size()};
}

std::string_view RecordBatch::Keep(std::string&& bytes) {
  arena_bytes_ += bytes.capacity();
  return owned_.emplace_back(std::move(bytes));
}

void RecordBatch::SetBytes(PipelineRecord& record, std::string_view bytes) {
  record.data = bytes;
  record.json = nullptr;
}

void RecordBatch::SetJson(PipelineRecord& record, JsonValue&& value) {
  if (record.json == nullptr) {
    record.json = new (json_allocator_.Malloc(sizeof(JsonValue))) JsonValue();
  }
  *record.json = std::move(value);
}

std::string_view RecordBatch::Bytes(PipelineRecord& record) {
  if (record.json == nullptr) return record.data;
  // Serialized into a reused buffer, then copied into the arena: no allocation per record.
  scratch_.clear();
  json::StringAppender sink(scratch_);
  json::StringWriter writer(sink);
  if (!record.json->Accept(writer)) {
    // Only a non-finite number makes the writer refuse; the parser admits none, so a processor
    // made it. The record keeps its original bytes and goes to the backup.
    record.json = nullptr;
    Fail(record, "InvalidDocument",
         "document holds a number JSON cannot represent (NaN or infinity)");
    return record.data;
  }
  record.data = Keep(std::string_view(scratch_));
  record.json = nullptr;
  return record.data;
}

JsonValue* RecordBatch::Json(PipelineRecord& record, std::string* error) {
  if (record.json != nullptr) return record.json;
  // A full-document parse: trailing non-whitespace after the value is an error too.
  rapidjson::GenericDocument<rapidjson::UTF8<>, JsonAllocator> doc(&json_allocator_);
  if (auto parse_error = json::ParseJson(doc, record.data, json::Limits{.max_depth = max_depth_})) {
    if (error != nullptr) *error = std::move(*parse_error);
    return nullptr;
  }
  SetJson(record, std::move(static_cast<JsonValue&>(doc)));
  return record.json;
}

JsonValue* RecordBatch::JsonObjectOrFail(PipelineRecord& record, std::string_view error_code) {
  const bool was_bytes = record.json == nullptr;
  std::string error;
  JsonValue* value = Json(record, &error);
  if (value == nullptr) {
    Fail(record, std::string(error_code), "data is not valid JSON: " + error);
    return nullptr;
  }
  if (!value->IsObject()) {
    std::string message = "data is " + std::string(JsonTypeName(*value)) + ", not a JSON object";
    // Back to the bytes as they were: a failed record keeps its data unchanged.
    if (was_bytes) SetBytes(record, record.data);
    Fail(record, std::string(error_code), std::move(message));
    return nullptr;
  }
  return value;
}

void RecordBatch::Fail(PipelineRecord& record, std::string code, std::string message) {
  record.result = RecordResult::kProcessingFailed;
  record.error_code = std::move(code);
  record.error_message = std::move(message);
}

SequenceNumber RecordBatch::SequenceNumberOf(const PipelineRecord& record) const {
  return tideline::SequenceNumberOf(shard_uid_, record.offset);
}

void RecordBatch::Seal() {
  for (PipelineRecord& r : records_) {
    if (r.json == nullptr) continue;
    r.is_json_object = r.json->IsObject();
    if (r.ok()) Bytes(r);
    r.json = nullptr;
  }
  json_allocator_.Clear();
}

size_t RecordBatch::MemoryBytes() const {
  return arena_bytes_ + json_allocator_.Capacity() + records_.capacity() * sizeof(PipelineRecord);
}

namespace {

// Splits off the first segment of a dotted path.
std::pair<std::string_view, std::string_view> SplitFirst(std::string_view path) {
  const size_t dot = path.find('.');
  if (dot == std::string_view::npos) return {path, {}};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

JsonValue::MemberIterator FindMember(JsonValue& obj, std::string_view name) {
  return obj.FindMember(
      JsonValue(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
}

}  // namespace

JsonValue* FindField(JsonValue& root, std::string_view path) {
  JsonValue* at = &root;
  while (true) {
    if (!at->IsObject()) return nullptr;
    auto [head, rest] = SplitFirst(path);
    auto it = FindMember(*at, head);
    if (it == std::as_const(*at).MemberEnd()) return nullptr;
    at = &it->value;
    if (rest.empty() && path.size() == head.size()) return at;
    path = rest;
  }
}

bool SetField(JsonValue& root, std::string_view path, JsonValue&& value, JsonAllocator& alloc) {
  if (!root.IsObject()) return false;
  JsonValue* at = &root;
  while (true) {
    auto [head, rest] = SplitFirst(path);
    const bool last = head.size() == path.size();
    auto it = FindMember(*at, head);
    if (last) {
      if (it != std::as_const(*at).MemberEnd()) {
        it->value = std::move(value);
      } else {
        JsonValue key(head.data(), static_cast<rapidjson::SizeType>(head.size()), alloc);
        at->AddMember(key, value, alloc);
      }
      return true;
    }
    if (it == std::as_const(*at).MemberEnd()) {
      JsonValue key(head.data(), static_cast<rapidjson::SizeType>(head.size()), alloc);
      at->AddMember(key, JsonValue(rapidjson::kObjectType), alloc);
      it = at->MemberEnd() - 1;
    } else if (!it->value.IsObject()) {
      it->value.SetObject();
    }
    at = &it->value;
    path = rest;
  }
}

bool RemoveField(JsonValue& root, std::string_view path, JsonValue* removed) {
  JsonValue* parent = &root;
  std::string_view leaf = path;
  const size_t dot = path.rfind('.');
  if (dot != std::string_view::npos) {
    parent = FindField(root, path.substr(0, dot));
    leaf = path.substr(dot + 1);
  }
  if (parent == nullptr || !parent->IsObject()) return false;
  auto it = FindMember(*parent, leaf);
  if (it == std::as_const(*parent).MemberEnd()) return false;
  if (removed != nullptr) *removed = std::move(it->value);
  parent->EraseMember(it);
  return true;
}

std::string FieldPathProblem(std::string_view path) {
  if (path.empty()) return "is empty";
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const size_t end = dot == std::string_view::npos ? path.size() : dot;
    if (end == start) {
      // Appended piecewise: "'" + std::string(...) trips GCC 12's -Wrestrict (bug 105329).
      std::string problem = "'";
      problem.append(path);
      problem.append("' has an empty segment");
      return problem;
    }
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

std::string_view JsonTypeName(const JsonValue& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "an unknown value";
}

}  // namespace tideline::pipeline
