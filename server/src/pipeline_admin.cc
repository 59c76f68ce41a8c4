#include "pipeline_admin.h"

#include <utility>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "errors.h"
#include "json_util.h"

namespace tideline::server {

ApiResponse HandlePipelineReset(std::span<pipeline::Pipeline* const> pipelines,
                                std::string_view name, std::string_view body) {
  pipeline::Pipeline* target = nullptr;
  for (pipeline::Pipeline* p : pipelines) {
    if (p->options().name == name) target = p;
  }
  if (target == nullptr) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("Pipeline {} not found.", name.substr(0, 128)));
  }
  rapidjson::Document doc;
  if (auto error = ParseJsonObject(doc, body)) {
    return MakeError(ApiErrorType::kSerialization, *error);
  }
  auto member = [&doc = std::as_const(doc)](const char* key) -> const rapidjson::Value* {
    const auto it = doc.FindMember(key);
    return it == doc.MemberEnd() ? nullptr : &it->value;
  };
  const rapidjson::Value* position = member("position");
  if (position == nullptr || !position->IsString()) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "position must be TRIM_HORIZON, AT_SEQUENCE_NUMBER or AT_TIMESTAMP");
  }
  const std::string_view kind(position->GetString(), position->GetStringLength());
  pipeline::ResetPosition reset;
  if (kind == "TRIM_HORIZON") {
    reset.kind = pipeline::ResetPosition::Kind::kTrimHorizon;
  } else if (kind == "AT_SEQUENCE_NUMBER") {
    const rapidjson::Value* seq = member("sequenceNumber");
    if (seq == nullptr || !seq->IsString()) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "AT_SEQUENCE_NUMBER needs sequenceNumber (a string)");
    }
    reset.kind = pipeline::ResetPosition::Kind::kAtSequenceNumber;
    reset.sequence_number.assign(seq->GetString(), seq->GetStringLength());
  } else if (kind == "AT_TIMESTAMP") {
    const rapidjson::Value* ts = member("timestampMs");
    if (ts == nullptr || !ts->IsInt64() || ts->GetInt64() < 0) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "AT_TIMESTAMP needs timestampMs (milliseconds since the epoch, >= 0)");
    }
    reset.kind = pipeline::ResetPosition::Kind::kAtTimestamp;
    reset.timestamp_ms = ts->GetInt64();
  } else {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("position must be TRIM_HORIZON, AT_SEQUENCE_NUMBER or "
                                 "AT_TIMESTAMP, got {}",
                                 kind.substr(0, 64)));
  }
  const Status st = target->Reset(reset);
  if (!st.ok()) return MakeErrorFromStatus(st);
  ApiResponse resp;
  resp.body = pipeline::PipelineStatusJson({target->GetStatus()});
  return resp;
}

}  // namespace tideline::server
