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
  constexpr std::string_view kPositions =
      "TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP";
  const rapidjson::Value* position = member("position");
  if (position == nullptr || !position->IsString()) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("position must be {}", kPositions));
  }
  const std::string_view kind(position->GetString(), position->GetStringLength());
  const std::optional<storage::StartingPosition> type = storage::ParseStartingPosition(kind);
  if (!type) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("position must be {}, got {}", kPositions, kind.substr(0, 64)));
  }
  storage::StreamPosition reset;
  reset.type = *type;
  if (*type == storage::StartingPosition::kAtSequenceNumber ||
      *type == storage::StartingPosition::kAfterSequenceNumber) {
    const rapidjson::Value* seq = member("sequenceNumber");
    if (seq == nullptr || !seq->IsString()) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       fmt::format("{} needs sequenceNumber (a string)", kind));
    }
    reset.sequence_number.assign(seq->GetString(), seq->GetStringLength());
  } else if (*type == storage::StartingPosition::kAtTimestamp) {
    const rapidjson::Value* ts = member("timestampMs");
    if (ts == nullptr || !ts->IsInt64() || ts->GetInt64() < 0) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       "AT_TIMESTAMP needs timestampMs (milliseconds since the epoch, >= 0)");
    }
    reset.timestamp_ms = ts->GetInt64();
  }
  const Status st = target->Reset(reset);
  if (!st.ok()) return MakeErrorFromStatus(st);
  ApiResponse resp;
  resp.body = pipeline::PipelineStatusJson({target->GetStatus()});
  return resp;
}

}  // namespace tideline::server
