// The fields processor: edits each record's JSON object with add, rename, copy, remove and
// metadata steps, in that order, each step's entries in configuration order.
//
// Values it adds either reference strings the batch owns (stream, shard id, partition key) or
// are copied into the batch's pool, never referencing the options: a batch may outlive the
// processor that transformed it (a reloaded configuration).
#include <memory>
#include <string>
#include <string_view>

#include "common/time_format.h"
#include "pipeline/processor.h"

namespace tideline::pipeline {
namespace {

using rapidjson::SizeType;
using rapidjson::StringRef;

// A string member referencing bytes that live as long as the batch.
JsonValue BatchString(std::string_view s) {
  return JsonValue(StringRef(s.data(), static_cast<SizeType>(s.size())));
}

JsonValue CopiedString(std::string_view s, JsonAllocator& alloc) {
  return JsonValue(s.data(), static_cast<SizeType>(s.size()), alloc);
}

Status CheckPath(std::string_view step, size_t index, std::string_view role,
                 std::string_view path) {
  const std::string problem = FieldPathProblem(path);
  if (problem.empty()) return Status::Ok();
  const std::string what = role.empty() ? "path" : std::string(role) + " path";
  return Status::InvalidArgument("fields: " + std::string(step) + "[" + std::to_string(index) +
                                 "] " + what + " " + problem);
}

class FieldsProcessor final : public Processor {
 public:
  explicit FieldsProcessor(FieldsOptions options) : options_(std::move(options)) {}

  std::string_view type() const override { return "fields"; }

  void Process(RecordBatch& batch) override {
    for (PipelineRecord& record : batch.records()) {
      if (!record.ok()) continue;
      if (JsonValue* root = batch.JsonObjectOrFail(record, "Fields.NotAnObject")) {
        Edit(batch, record, *root);
      }
    }
  }

 private:
  void Edit(RecordBatch& batch, const PipelineRecord& record, JsonValue& root) const {
    JsonAllocator& alloc = batch.allocator();
    // SetField only returns false for a non-object root, which Process has ruled out.
    for (const auto& [path, value] : options_.add) {
      SetField(root, path, CopiedString(value, alloc), alloc);
    }
    for (const auto& [from, to] : options_.rename) {
      JsonValue moved;
      if (RemoveField(root, from, &moved)) SetField(root, to, std::move(moved), alloc);
    }
    for (const auto& [from, to] : options_.copy) {
      const JsonValue* source = FindField(root, from);
      if (source == nullptr) continue;
      // A deep copy; strings it references (not copies) live in the batch as well.
      JsonValue copy(*source, alloc);
      SetField(root, to, std::move(copy), alloc);
    }
    for (const std::string& path : options_.remove) {
      RemoveField(root, path);  // a missing field is already what was asked for
    }
    for (const auto& [path, field] : options_.metadata) {
      SetField(root, path, MetadataValue(batch, record, field), alloc);
    }
  }

  static JsonValue MetadataValue(RecordBatch& batch, const PipelineRecord& record,
                                 MetadataField field) {
    JsonAllocator& alloc = batch.allocator();
    switch (field) {
      case MetadataField::kSequenceNumber:
        return CopiedString(batch.SequenceNumberOf(record).get(), alloc);
      case MetadataField::kShardId:
        return BatchString(batch.shard().get());
      case MetadataField::kPartitionKey:
        return BatchString(record.partition_key);
      case MetadataField::kStream:
        return BatchString(batch.stream().get());
      case MetadataField::kArrivalTimestamp: {
        char text[kIso8601MillisLength];
        if (!FormatIso8601Millis(record.arrival_ms, text)) {
          // arrival_ms is the store's clock at append: outside years 0-9999 only if it was
          // broken, and a null says so without losing the record.
          return JsonValue();
        }
        return CopiedString(std::string_view(text, sizeof(text)), alloc);
      }
      case MetadataField::kArrivalTimestampMs:
        return JsonValue(static_cast<int64_t>(record.arrival_ms));
    }
    return JsonValue();  // unreachable: the factory rejects unknown fields
  }

  const FieldsOptions options_;
};

bool KnownMetadataField(MetadataField field) {
  switch (field) {
    case MetadataField::kSequenceNumber:
    case MetadataField::kShardId:
    case MetadataField::kPartitionKey:
    case MetadataField::kStream:
    case MetadataField::kArrivalTimestamp:
    case MetadataField::kArrivalTimestampMs:
      return true;
  }
  return false;
}

Status Validate(const FieldsOptions& options) {
  for (size_t i = 0; i < options.add.size(); ++i) {
    TL_RETURN_IF_ERROR(CheckPath("add", i, "target", options.add[i].first));
  }
  for (size_t i = 0; i < options.rename.size(); ++i) {
    TL_RETURN_IF_ERROR(CheckPath("rename", i, "source", options.rename[i].first));
    TL_RETURN_IF_ERROR(CheckPath("rename", i, "target", options.rename[i].second));
  }
  for (size_t i = 0; i < options.copy.size(); ++i) {
    TL_RETURN_IF_ERROR(CheckPath("copy", i, "source", options.copy[i].first));
    TL_RETURN_IF_ERROR(CheckPath("copy", i, "target", options.copy[i].second));
  }
  for (size_t i = 0; i < options.remove.size(); ++i) {
    TL_RETURN_IF_ERROR(CheckPath("remove", i, "", options.remove[i]));
  }
  for (size_t i = 0; i < options.metadata.size(); ++i) {
    TL_RETURN_IF_ERROR(CheckPath("metadata", i, "target", options.metadata[i].first));
    if (!KnownMetadataField(options.metadata[i].second)) {
      return Status::InvalidArgument("fields: metadata[" + std::to_string(i) +
                                     "] names an unknown metadata field");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Processor>> MakeFieldsProcessor(const FieldsOptions& options) {
  TL_RETURN_IF_ERROR(Validate(options));
  return std::unique_ptr<Processor>(std::make_unique<FieldsProcessor>(options));
}

}  // namespace tideline::pipeline
