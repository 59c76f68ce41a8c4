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
    for (PipelineRecord& record : batch.records()) {
      if (record.ok()) batch.JsonObjectOrFail(record, "Json.ParseFailed");
    }
  }
};

}  // namespace

Result<std::unique_ptr<Processor>> MakeJsonProcessor() {
  return std::unique_ptr<Processor>(std::make_unique<JsonProcessor>());
}

}  // namespace tideline::pipeline
