// Validation of pipeline options; each destination's own checks live with the destination.
#include "pipeline/options.h"
#include "common/regional_stream.h"
#include "opensearch/options_validation.h"
#include "pipeline/pipeline.h"

namespace tideline::pipeline {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

Status ValidateFileDestination(const FileDestinationOptions& file, const std::string& where) {
  if (file.path.empty()) return Status::InvalidArgument(where + "destination path is required");
  if (file.rotate_mib < 1 || file.rotate_mib > 4096) {
    return Status::InvalidArgument(where + "destination rotate_mib must be in 1..4096");
  }
  if (file.rotate_interval_s < 1 || file.rotate_interval_s > 86400) {
    return Status::InvalidArgument(where + "destination rotate_interval_s must be in 1..86400");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateOpenSearchDestination(const OpenSearchDestinationOptions& options) {
  return opensearch::ValidateDestinationOptions(options, "");
}

Status ValidatePipelineOptions(const PipelineOptions& o) {
  if (!ValidName(o.name)) {
    return Status::InvalidArgument("pipeline name '" + o.name +
                                   "' must be 1..64 characters of [A-Za-z0-9_.-]");
  }
  const std::string where = "pipeline " + o.name + ": ";
  if (o.source.stream.get().empty()) {
    return Status::InvalidArgument(where + "source.stream is required");
  }
  if (const Status st = ValidateStoredStreamName(o.source.stream.get()); !st.ok()) {
    return Status::InvalidArgument(where + "source." + st.message());
  }
  if (o.source.start.type != storage::StartingPosition::kTrimHorizon &&
      o.source.start.type != storage::StartingPosition::kLatest &&
      o.source.start.type != storage::StartingPosition::kAtTimestamp) {
    return Status::InvalidArgument(where +
                                   "source.starting_position must be TRIM_HORIZON, LATEST or "
                                   "AT_TIMESTAMP");
  }
  if (o.source.read_max_records == 0 || o.source.read_max_records > 10'000) {
    return Status::InvalidArgument(where + "source.read_max_records must be in 1..10000");
  }
  if (o.buffer.size_mib < 1 || o.buffer.size_mib > 128) {
    return Status::InvalidArgument(where + "buffer.size_mib must be in 1..128");
  }
  if (o.buffer.interval_s > 900) {
    return Status::InvalidArgument(where + "buffer.interval_s must be in 0..900");
  }
  if (o.max_document_depth < 1 || o.max_document_depth > kMaxMaxDocumentDepth) {
    return Status::InvalidArgument(where + "max_document_depth must be in 1..1000");
  }
  if (const auto* file = std::get_if<FileDestinationOptions>(&o.destination.options)) {
    TL_RETURN_IF_ERROR(ValidateFileDestination(*file, where));
  } else {
    const auto& os = std::get<OpenSearchDestinationOptions>(o.destination.options);
    TL_RETURN_IF_ERROR(opensearch::ValidatePipelineDestination(os, o.buffer, where));
  }
  if (o.backup.path.empty()) return Status::InvalidArgument(where + "backup.path is required");
  return Status::Ok();
}

}  // namespace tideline::pipeline
