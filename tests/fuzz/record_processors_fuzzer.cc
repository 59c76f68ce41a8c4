// The built-in processors that parse record data, which any producer controls
// (pipeline/include/pipeline/processor.h): access_log and json, each followed by fields, the
// way a pipeline chains them, then RecordBatch::Seal.
//
// Input: the first byte picks the chain (even: access_log -> fields, odd: json -> fields); the
// rest is split at '\n' into up to 16 records. Checked: no record is added or lost, every
// record ends Ok (with a JSON object as its sealed data) or ProcessingFailed with an error code.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "pipeline/processor.h"
#include "pipeline/record_batch.h"

namespace {

using namespace tideline;
using namespace tideline::pipeline;

struct Chains {
  std::unique_ptr<Processor> access_log;
  std::unique_ptr<Processor> json;
  std::unique_ptr<Processor> fields;
};

std::unique_ptr<Processor> Must(Result<std::unique_ptr<Processor>> made) {
  FUZZ_CHECK(made.ok());
  return std::move(*made);
}

const Chains& Processors() {
  static const Chains chains = [] {
    Chains c;
    c.access_log = Must(MakeAccessLogProcessor({.keep_line_field = "line"}));
    c.json = Must(MakeJsonProcessor());
    FieldsOptions f;
    f.add = {{"service.name", "web"}, {"a.b.c", "x"}};
    f.rename = {{"client_ip", "client.ip"}, {"msg", "message"}};
    f.copy = {{"client.ip", "source.address"}, {"a", "a_copy"}};
    f.remove = {"ident", "a.b", "bytes"};
    f.metadata = {{"kinesis.seq", MetadataField::kSequenceNumber},
                  {"kinesis.shard", MetadataField::kShardId},
                  {"kinesis.key", MetadataField::kPartitionKey},
                  {"kinesis.stream", MetadataField::kStream},
                  {"arrival", MetadataField::kArrivalTimestamp},
                  {"arrival_ms", MetadataField::kArrivalTimestampMs}};
    c.fields = Must(MakeFieldsProcessor(f));
    return c;
  }();
  return chains;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Chains& chains = Processors();
  RecordBatch batch(StreamName("fuzz"), ShardId("shardId-000000000003"), ShardUid(3));
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  for (uint64_t offset = 1; offset <= 16; ++offset) {
    const size_t nl = rest.find('\n');
    batch.Add(Offset(offset), 1767225600123 + static_cast<int64_t>(offset), "user-17",
              rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  const size_t records = batch.records().size();

  (data[0] % 2 == 0 ? chains.access_log : chains.json)->Process(batch);
  chains.fields->Process(batch);
  batch.Seal();

  FUZZ_CHECK(batch.records().size() == records);
  for (PipelineRecord& r : batch.records()) {
    if (r.ok()) {
      FUZZ_CHECK(r.is_json_object);
      const std::string bytes(batch.Bytes(r));
      rapidjson::Document d;
      d.Parse(bytes.data(), bytes.size());
      FUZZ_CHECK(!d.HasParseError() && d.IsObject());
    } else {
      FUZZ_CHECK(r.result == RecordResult::kProcessingFailed && !r.error_code.empty());
    }
  }
  return 0;
}
