// The json processor: parses each record's data into a JSON object, so the processors after it
// (fields, geoip) and the encoder share one parsed form.
#include <memory>
#include <string>
#include <string_view>

#include "pipeline/processor.h"

namespace tideline::pipeline {
namespace {

class JsonProcessor final : public Processor {
 public:
  std::string_view type() const override { return "json"; }

  void Process(RecordBatch& batch) override {
    std::string error;
    for (PipelineRecord& record : batch.records()) {
      if (!record.ok()) continue;
      const bool was_bytes = record.json == nullptr;
      const JsonValue* value = batch.Json(record, &error);
      if (value == nullptr) {
        RecordBatch::Fail(record, "Json.ParseFailed", "data is not valid JSON: " + error);
        continue;
      }
      if (!value->IsObject()) {
        const std::string message =
            "data is " + std::string(JsonTypeName(*value)) + ", not a JSON object";
        // Back to the bytes as they were: a failed record keeps its data unchanged.
        if (was_bytes) batch.SetBytes(record, record.data);
        RecordBatch::Fail(record, "Json.ParseFailed", message);
      }
    }
  }
};

}  // namespace

Result<std::unique_ptr<Processor>> MakeJsonProcessor() {
  return std::unique_ptr<Processor>(std::make_unique<JsonProcessor>());
}

}  // namespace tideline::pipeline
